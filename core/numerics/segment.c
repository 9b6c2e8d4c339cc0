/* Segments of the tape (sublinear-memory training, see DESIGN.md "Memory"):
 * a mark of the arena and the tape, a release back to it, a side region for
 * what must outlive a release, and a backward over the tape's tail. */
#include "ctx_internal.h"

#include <stdlib.h>

fivo_ctx_mark fivo__ctx_mark(const fivo_ctx *ctx)
{
    fivo_ctx_mark m = {ctx->cur, ctx->ptr, ctx->used_before, ctx->nnodes, ctx->ntr};
    return m;
}

size_t fivo__ctx_in_use(const fivo_ctx *ctx)
{
    size_t in_use = ctx->used_before;
    if (ctx->cur < ctx->nblocks)
        in_use += (size_t)(ctx->ptr - ctx->blocks[ctx->cur].base);
    return in_use;
}

void fivo__ctx_release(fivo_ctx *ctx, const fivo_ctx_mark *m)
{
    size_t in_use = fivo__ctx_in_use(ctx);
    if (in_use > ctx->peak)
        ctx->peak = in_use;
    ctx->cur = m->cur;
    ctx->ptr = m->ptr;
    ctx->end = ctx->blocks[m->cur].base + ctx->blocks[m->cur].size;
    ctx->used_before = m->used_before;
    ctx->nnodes = m->nnodes;
    /* transposed copies made since point into the released memory */
    ctx->ntr = m->ntr;
    ctx->tr_last = 0;
}

static bool side_add(fivo_ctx *ctx, size_t n)
{
    if (ctx->nside == ctx->cap_side) {
        int cap = ctx->cap_side ? 2 * ctx->cap_side : 8;
        fivo_side_chunk *c = realloc(ctx->side, (size_t)cap * sizeof *c);
        if (c == NULL)
            return false;
        ctx->side = c;
        ctx->cap_side = cap;
    }
    size_t size = (size_t)4 << 20;
    if (ctx->memory_budget / 4 > size)
        size = ctx->memory_budget / 4;
    if (size < n)
        size = n;
    char *mem = aligned_alloc(FIVO_ALIGN, size);
    if (mem == NULL)
        return false;
    memset(mem, 0, size); /* touch now: no page faults in later steps */
    ctx->side[ctx->nside++] = (fivo_side_chunk){mem, size, 0};
    return true;
}

void *fivo__side_alloc(fivo_ctx *ctx, size_t bytes)
{
    size_t n = (bytes + (FIVO_ALIGN - 1)) & ~(size_t)(FIVO_ALIGN - 1);
    if (n == 0)
        n = FIVO_ALIGN;
    while (ctx->side_cur < ctx->nside &&
           ctx->side[ctx->side_cur].size - ctx->side[ctx->side_cur].used < n)
        ctx->side_cur++;
    if (ctx->side_cur == ctx->nside && !side_add(ctx, n)) {
        fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "segments: cannot allocate %zu bytes", n);
        return NULL;
    }
    fivo_side_chunk *c = &ctx->side[ctx->side_cur];
    void *p = c->base + c->used;
    c->used += n;
    return p;
}

float *fivo__side_grad(fivo_ctx *ctx, fivo_tensor *t, bool zero)
{
    size_t n = fivo_tensor_size(t);
    float *g = fivo__side_alloc(ctx, n * sizeof(float));
    if (g == NULL)
        return fivo__zeros(ctx, n); /* error recorded; keep the op going */
    if (zero)
        memset(g, 0, n * sizeof(float));
    return g;
}

void fivo__side_reset(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->nside; i++)
        ctx->side[i].used = 0;
    ctx->side_cur = 0;
}

size_t fivo__side_bytes(const fivo_ctx *ctx)
{
    size_t n = 0;
    for (int i = 0; i < ctx->nside; i++)
        n += ctx->side[i].size;
    return n;
}

void fivo__side_free(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->nside; i++)
        free(ctx->side[i].base);
    free(ctx->side);
    ctx->side = NULL;
    ctx->nside = ctx->cap_side = ctx->side_cur = 0;
}

void fivo__backward_tail(fivo_ctx *ctx, int first)
{
    for (int i = ctx->nnodes - 1; i >= first && ctx->status == FIVO_OK; i--) {
        fivo_node *n = &ctx->nodes[i];
        if (n->out->grad == NULL && (n->out2 == NULL || n->out2->grad == NULL))
            continue;
        n->backward(ctx, n);
    }
}

void fivo_ctx_set_memory_budget(fivo_ctx *ctx, size_t bytes)
{
    ctx->memory_budget = bytes;
    if (bytes == 0)
        return;
    /* The arena reaches its size at once: one block of the budget, touched
     * now, so later steps fault no pages in (blocks are never freed). The
     * free part of the blocks already there is touched too: the context's
     * first block (16 MB in the trainer) was faulted in as each longer
     * shard reached new memory (JSB latent 64, one sequence per shard: 8.1
     * faults per step over steps 10-50). */
    for (int i = ctx->cur; i < ctx->nblocks; i++) {
        char *from = i == ctx->cur ? ctx->ptr : ctx->blocks[i].base;
        char *end = ctx->blocks[i].base + ctx->blocks[i].size;
        if (from != NULL && end > from)
            memset(from, 0, (size_t)(end - from));
    }
    size_t want = bytes;
    if (ctx->total_bytes + ctx->block_size < want) {
        fivo_ctx_mark m = fivo__ctx_mark(ctx);
        size_t peak = ctx->peak, extra = want - ctx->total_bytes;
        if (extra < ctx->block_size + FIVO_ALIGN)
            extra = ctx->block_size + FIVO_ALIGN; /* a block of its own */
        char *p = fivo__alloc(ctx, extra);
        if (p != NULL)
            memset(p, 0, extra);
        fivo__ctx_release(ctx, &m);
        ctx->peak = peak;
    }
    if (ctx->nside == 0) {
        void *p = fivo__side_alloc(ctx, FIVO_ALIGN);
        (void)p;
        fivo__side_reset(ctx);
    }
}

size_t fivo_ctx_memory_budget(const fivo_ctx *ctx) { return ctx->memory_budget; }

void fivo_ctx_set_segment_steps(fivo_ctx *ctx, int steps) { ctx->segment_steps = steps > 0 ? steps : 0; }
int fivo_ctx_segment_steps(const fivo_ctx *ctx) { return ctx->segment_steps; }
