/* The per-step arena: a list of blocks that never move, reset in O(1). */
#include "ctx_internal.h"

#include <stdlib.h>

static bool arena_add_block(fivo_ctx *ctx, int at, size_t size)
{
    if (ctx->nblocks == ctx->cap_blocks) {
        int cap = ctx->cap_blocks ? 2 * ctx->cap_blocks : 8;
        fivo_arena_block *b = realloc(ctx->blocks, (size_t)cap * sizeof *b);
        if (b == NULL)
            return false;
        ctx->blocks = b;
        ctx->cap_blocks = cap;
    }
    char *mem = aligned_alloc(FIVO_ALIGN, size);
    if (mem == NULL)
        return false;
    memmove(&ctx->blocks[at + 1], &ctx->blocks[at], (size_t)(ctx->nblocks - at) * sizeof *ctx->blocks);
    ctx->blocks[at].base = mem;
    ctx->blocks[at].size = size;
    ctx->nblocks++;
    ctx->total_bytes += size;
    return true;
}

void *fivo__arena_alloc_slow(fivo_ctx *ctx, size_t n)
{
    /* Close the current block; blocks after it are free since the reset. */
    if (ctx->cur < ctx->nblocks) {
        fivo_arena_block *b = &ctx->blocks[ctx->cur];
        ctx->used_before += (size_t)(ctx->ptr - b->base);
    }
    size_t in_use = ctx->used_before;
    if (in_use > ctx->peak)
        ctx->peak = in_use;

    int next = ctx->cur + 1;
    if (ctx->nblocks == 0)
        next = 0;
    while (next < ctx->nblocks && ctx->blocks[next].size < n)
        next++; /* skip too-small free blocks (rare: only for huge requests) */
    if (next >= ctx->nblocks) {
        size_t size = ctx->block_size;
        if (size < n)
            size = n;
        if (ctx->max_bytes != 0 && ctx->total_bytes + size > ctx->max_bytes && ctx->status == FIVO_OK)
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "arena: %zu bytes in use exceed the limit of %zu bytes",
                          ctx->total_bytes + size, ctx->max_bytes);
        next = ctx->nblocks;
        if (!arena_add_block(ctx, next, size)) {
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "arena: cannot allocate a block of %zu bytes", size);
            /* keep the pointers consistent with the old current block */
            ctx->used_before -= (ctx->cur < ctx->nblocks) ? (size_t)(ctx->ptr - ctx->blocks[ctx->cur].base) : 0;
            return NULL;
        }
    }
    ctx->cur = next;
    ctx->ptr = ctx->blocks[next].base + n;
    ctx->end = ctx->blocks[next].base + ctx->blocks[next].size;
    if (ctx->used_before + n > ctx->peak)
        ctx->peak = ctx->used_before + n;
    return ctx->blocks[next].base;
}

void *fivo_ctx_alloc(fivo_ctx *ctx, size_t bytes)
{
    return fivo__alloc(ctx, bytes);
}

FIVO_INTERNAL void fivo__arena_reset(fivo_ctx *ctx);
void fivo__arena_reset(fivo_ctx *ctx)
{
    size_t in_use = ctx->used_before;
    if (ctx->cur < ctx->nblocks)
        in_use += (size_t)(ctx->ptr - ctx->blocks[ctx->cur].base);
    if (in_use > ctx->peak)
        ctx->peak = in_use;
    ctx->used_before = 0;
    ctx->cur = 0;
    if (ctx->nblocks > 0) {
        ctx->ptr = ctx->blocks[0].base;
        ctx->end = ctx->blocks[0].base + ctx->blocks[0].size;
    } else {
        ctx->ptr = ctx->end = NULL;
    }
}

FIVO_INTERNAL void fivo__arena_free(fivo_ctx *ctx);
void fivo__arena_free(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->nblocks; i++)
        free(ctx->blocks[i].base);
    free(ctx->blocks);
    ctx->blocks = NULL;
    ctx->nblocks = ctx->cap_blocks = 0;
}
