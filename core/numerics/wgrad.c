/* Deferred weight and bias gradients (see gemm.h). Per-step products with
 * K = 16 rows run far below sgemm's speed; the weight gradients do not feed
 * the recurrence, so backward only notes (x, g) per step and the end of
 * backward packs the notes of each parameter, in tape order, into chunks of
 * FIVO_WGRAD_CHUNK rows and forms each chunk as one product. Chunks are cut
 * by row counts only: the bits do not depend on the thread count. */
#include "ctx_internal.h"
#include "fastmath.h"
#include "gemm.h"

#include <stdlib.h>

/* Rows per packed product: large enough for sgemm's speed, small enough
 * that the packed copy stays in cache-sized scratch. */
#define FIVO_WGRAD_CHUNK 1024

struct fivo_wgrad_part {
    const float *x; /* NULL for a bias part */
    const float *g;
    int rows, ldx;
    struct fivo_wgrad_part *next;
};

static fivo_wgrad_group *find_group(fivo_ctx *ctx, float *dst, int ld, int in, int out, bool bias)
{
    /* A handful of parameters, visited in the same order every step: the
     * last hit or a short scan. */
    for (int i = 0; i < ctx->nwg; i++) {
        int k = (ctx->wg_last + i) % ctx->nwg;
        fivo_wgrad_group *gr = &ctx->wg[k];
        if (gr->dst == dst && gr->ld == ld && gr->in == in && gr->out == out && gr->bias == bias) {
            ctx->wg_last = k;
            return gr;
        }
    }
    /* One slot more than the groups in use: a new group's slot is swapped
     * out of the way before it is taken (below). */
    if (ctx->nwg + 1 >= ctx->cap_wg) {
        int cap = ctx->cap_wg ? 2 * ctx->cap_wg : 32;
        fivo_wgrad_group *g = realloc(ctx->wg, (size_t)cap * sizeof *g);
        if (g == NULL) {
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "backward: cannot note %d weight gradients", cap);
            return NULL;
        }
        memset(g + ctx->cap_wg, 0, (size_t)(cap - ctx->cap_wg) * sizeof *g);
        ctx->wg = g;
        ctx->cap_wg = cap;
    }
    /* A slot keeps its stage buffers across backwards, sized for the group
     * that used it. Groups do not come in the same order every step (a
     * stepwise batch notes the encoders' weights between the segments,
     * a whole-batch one after them), so a parameter takes back the slot it
     * had: its stage fits, nothing is re-allocated or faulted in. A
     * parameter never seen before takes a slot no parameter has had, so it
     * does not take another's: that cascaded, each displaced parameter
     * taking the next one's slot and its stage re-allocated (MuseData
     * latent 64: 7 stages, 6 MB, faulted in again at the second stepwise
     * batch). */
    int k = ctx->nwg, free_k = -1;
    for (; k < ctx->cap_wg; k++) {
        const fivo_wgrad_group *o = &ctx->wg[k];
        if (o->dst == dst && o->ld == ld && o->in == in && o->out == out && o->bias == bias)
            break;
        if (o->dst == NULL && free_k < 0)
            free_k = k;
    }
    if (k == ctx->cap_wg) /* new: a free slot, or (none left) the next one's */
        k = free_k >= 0 ? free_k : ctx->nwg;
    if (k != ctx->nwg) {
        fivo_wgrad_group t = ctx->wg[ctx->nwg];
        ctx->wg[ctx->nwg] = ctx->wg[k];
        ctx->wg[k] = t;
    }
    fivo_wgrad_group *gr = &ctx->wg[ctx->nwg];
    ctx->wg_last = ctx->nwg++;
    gr->staged = 0; /* the slot keeps its stage buffers */
    gr->streamed = false;
    gr->dst = dst;
    gr->ld = ld;
    gr->in = in;
    gr->out = out;
    gr->bias = bias;
    gr->rows = 0;
    gr->head = gr->tail = NULL;
    return gr;
}

static void add_part(fivo_ctx *ctx, fivo_wgrad_group *gr, const float *x, int ldx, const float *g,
                     int rows)
{
    fivo_wgrad_part *p = fivo__alloc(ctx, sizeof *p);
    if (p == NULL)
        return;
    p->x = x;
    p->g = g;
    p->rows = rows;
    p->ldx = ldx;
    p->next = NULL;
    if (gr->tail != NULL)
        gr->tail->next = p;
    else
        gr->head = p;
    gr->tail = p;
    gr->rows += rows;
}

void fivo__defer_wgrad(fivo_ctx *ctx, float *dst, int ld, int in, int out, const float *x, int ldx,
                       const float *g, int rows)
{
    fivo_wgrad_group *gr = find_group(ctx, dst, ld, in, out, false);
    if (gr != NULL && rows > 0)
        add_part(ctx, gr, x, ldx, g, rows);
}

/* Column sums in double, each column's rows added in order. The sums of a
 * block of columns stay in registers across the rows (not stored and
 * reloaded per row, a store-to-load chain): the same additions in the same
 * order, so the same bits. */
#define FIVO_SUM_BLOCK 32
#define FIVO_SUM_TAIL 8
/* Columns j0 .. j0 + W - 1; always inlined, so W is a constant and the W
 * sums live in registers. */
static inline __attribute__((always_inline)) void sum_rows_block(int rows, int cols,
                                                                 const float *restrict g,
                                                                 double *restrict acc, int j0,
                                                                 const int W)
{
    double a[FIVO_SUM_BLOCK];
    for (int k = 0; k < W; k++)
        a[k] = acc[j0 + k];
    for (int r = 0; r < rows; r++) {
        const float *gr = g + (size_t)r * cols + j0;
        for (int k = 0; k < W; k++)
            a[k] += (double)gr[k];
    }
    for (int k = 0; k < W; k++)
        acc[j0 + k] = a[k];
}

FIVO_KERNEL static void sum_rows_kernel(int rows, int cols, const float *restrict g,
                                        double *restrict acc)
{
    int j0 = 0;
    for (; j0 + FIVO_SUM_BLOCK <= cols; j0 += FIVO_SUM_BLOCK)
        sum_rows_block(rows, cols, g, acc, j0, FIVO_SUM_BLOCK);
    for (; j0 + FIVO_SUM_TAIL <= cols; j0 += FIVO_SUM_TAIL)
        sum_rows_block(rows, cols, g, acc, j0, FIVO_SUM_TAIL);
    for (int j = j0; j < cols; j++) {
        double a = acc[j];
        for (int r = 0; r < rows; r++)
            a += (double)g[(size_t)r * cols + j];
        acc[j] = a;
    }
}

/* The ReLU mask (g = y > 0 ? g : 0, in place) and the sums in one pass. */
FIVO_KERNEL static void mask_sum_rows_kernel(int rows, int cols, const float *restrict y,
                                             float *restrict g, double *restrict acc)
{
    for (int r = 0; r < rows; r++) {
        float *restrict gr = g + (size_t)r * cols;
        const float *restrict yr = y + (size_t)r * cols;
        for (int j = 0; j < cols; j++) {
            float v = yr[j] > 0.0f ? gr[j] : 0.0f;
            gr[j] = v;
            acc[j] += (double)v;
        }
    }
}

/* A bias group's running double sums, zeroed when it starts. */
static bool bias_acc_ready(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    if (gr->bias_cap < gr->out) {
        double *a = realloc(gr->bias_acc, (size_t)gr->out * sizeof *a);
        if (a == NULL) {
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "backward: cannot stage a bias of %d", gr->out);
            return false;
        }
        gr->bias_acc = a;
        gr->bias_cap = gr->out;
    }
    if (!gr->streamed) {
        for (int j = 0; j < gr->out; j++)
            gr->bias_acc[j] = 0.0;
        gr->streamed = true;
    }
    return true;
}

/* Bias sums are taken at once, while g is still in cache (not re-read from
 * memory at the end of backward): the parts are added in the order they
 * come, as the end would add them, and dst changes only at the flush. */
void fivo__defer_bias(fivo_ctx *ctx, float *dst, int out, const float *y, float *g, int rows)
{
    fivo_wgrad_group *gr = find_group(ctx, dst, out, 1, out, true);
    if (gr == NULL || rows <= 0 || !bias_acc_ready(ctx, gr))
        return;
    if (y != NULL)
        mask_sum_rows_kernel(rows, out, y, g, gr->bias_acc);
    else
        sum_rows_kernel(rows, out, g, gr->bias_acc);
    gr->rows += rows;
}

static void flush_bias(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    double *acc = fivo__alloc(ctx, (size_t)gr->out * sizeof(double));
    if (acc == NULL)
        return;
    for (int j = 0; j < gr->out; j++)
        acc[j] = gr->streamed ? gr->bias_acc[j] : 0.0;
    for (const fivo_wgrad_part *p = gr->head; p != NULL; p = p->next)
        sum_rows_kernel(p->rows, gr->out, p->g, acc);
    for (int j = 0; j < gr->out; j++)
        gr->dst[j] += (float)acc[j];
}

/* Room for `floats` packed values of a group `width` = in + out wide. A
 * packing never exceeds a chunk of rows, so the scratch grows at once to a
 * whole chunk of the widest group seen, touched: grown to each new k, it was
 * re-allocated (and faulted in) whenever a longer batch came (JSB latent
 * 256, one sequence per shard: 58 faults per step over steps 10-50). */
static bool reserve_pack(fivo_ctx *ctx, size_t floats, size_t width)
{
    if (floats <= ctx->pack_cap)
        return true;
    size_t want = (size_t)FIVO_WGRAD_CHUNK * width;
    if (want < floats)
        want = floats;
    if (want < 2 * ctx->pack_cap)
        want = 2 * ctx->pack_cap;
    free(ctx->pack);
    size_t bytes = (want * sizeof(float) + FIVO_ALIGN - 1) & ~(size_t)(FIVO_ALIGN - 1);
    ctx->pack = aligned_alloc(FIVO_ALIGN, bytes);
    ctx->pack_cap = ctx->pack != NULL ? want : 0;
    if (ctx->pack == NULL) {
        fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "backward: cannot pack %zu floats", want);
        return false;
    }
    memset(ctx->pack, 0, bytes);
    return true;
}

/* Streaming: the rows of the chunk being filled live in the group's stage
 * (x rows, then at stage + cap * in the g rows); a chunk is formed when the
 * next part would not fit, exactly where one flush at the end cuts it. */
static int stage_rows(const fivo_wgrad_group *gr)
{
    return (int)(gr->stage_floats / (size_t)(gr->in + gr->out));
}

static void stage_emit(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    if (gr->staged == 0)
        return;
    const float *xs = gr->stage, *gs = gr->stage + (size_t)stage_rows(gr) * gr->in;
    fivo__sgemm(ctx, true, false, gr->in, gr->out, gr->staged, xs, gr->in, gs, gr->out, 1.0f,
                gr->dst, gr->ld);
    gr->staged = 0;
}

static void stage_weight(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    if (!gr->streamed) {
        gr->staged = 0;
        gr->streamed = true;
    }
    for (const fivo_wgrad_part *p = gr->head; p != NULL && ctx->status == FIVO_OK; p = p->next) {
        if (gr->staged > 0 && gr->staged + p->rows > FIVO_WGRAD_CHUNK)
            stage_emit(ctx, gr);
        if (p->rows > FIVO_WGRAD_CHUNK && p->ldx == gr->in) {
            /* a chunk of its own (as one flush cuts it), formed in place: a
             * stage as long as the batch would be re-allocated, and its
             * pages faulted in, with every longer batch */
            fivo__sgemm(ctx, true, false, gr->in, gr->out, p->rows, p->x, gr->in, p->g, gr->out,
                        1.0f, gr->dst, gr->ld);
            continue;
        }
        int need = gr->staged + p->rows > FIVO_WGRAD_CHUNK ? gr->staged + p->rows : FIVO_WGRAD_CHUNK;
        if (stage_rows(gr) < need) { /* here staged is 0 unless the stage is new */
            size_t floats = (size_t)need * (size_t)(gr->in + gr->out);
            float *st = aligned_alloc(FIVO_ALIGN, (floats * sizeof(float) + FIVO_ALIGN - 1) &
                                                      ~(size_t)(FIVO_ALIGN - 1));
            if (st == NULL) {
                fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "backward: cannot stage %zu floats", floats);
                return;
            }
            free(gr->stage);
            gr->stage = st;
            gr->stage_floats = floats;
        }
        int cap = stage_rows(gr);
        float *xs = gr->stage + (size_t)gr->staged * gr->in;
        float *gs = gr->stage + (size_t)cap * gr->in + (size_t)gr->staged * gr->out;
        if (p->ldx == gr->in)
            memcpy(xs, p->x, (size_t)p->rows * gr->in * sizeof(float));
        else
            for (int r = 0; r < p->rows; r++)
                memcpy(xs + (size_t)r * gr->in, p->x + (size_t)r * p->ldx,
                       (size_t)gr->in * sizeof(float));
        memcpy(gs, p->g, (size_t)p->rows * gr->out * sizeof(float));
        gr->staged += p->rows;
    }
    gr->head = gr->tail = NULL;
}

static void stage_bias(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    if (!bias_acc_ready(ctx, gr))
        return;
    for (const fivo_wgrad_part *p = gr->head; p != NULL; p = p->next)
        sum_rows_kernel(p->rows, gr->out, p->g, gr->bias_acc);
    gr->head = gr->tail = NULL;
}

void fivo__wgrad_stage(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->nwg && ctx->status == FIVO_OK; i++) {
        if (ctx->wg[i].bias)
            stage_bias(ctx, &ctx->wg[i]);
        else
            stage_weight(ctx, &ctx->wg[i]);
    }
    ctx->wgrad_streamed = true;
}

void fivo__wgrad_free(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->cap_wg; i++) {
        free(ctx->wg[i].stage);
        free(ctx->wg[i].bias_acc);
    }
}

static void flush_weight(fivo_ctx *ctx, fivo_wgrad_group *gr)
{
    if (gr->streamed) {
        stage_weight(ctx, gr);
        stage_emit(ctx, gr);
        return;
    }
    const fivo_wgrad_part *p = gr->head;
    if (p != NULL && p->next == NULL && p->ldx == gr->in) {
        /* one part: no copy */
        fivo__sgemm(ctx, true, false, gr->in, gr->out, p->rows, p->x, gr->in, p->g, gr->out, 1.0f,
                    gr->dst, gr->ld);
        return;
    }
    while (p != NULL) {
        const fivo_wgrad_part *first = p;
        int k = 0;
        for (const fivo_wgrad_part *q = p; q != NULL && (k == 0 || k + q->rows <= FIVO_WGRAD_CHUNK);
             q = q->next)
            k += q->rows;
        if (k == p->rows && p->ldx == gr->in) { /* one part: no copy */
            fivo__sgemm(ctx, true, false, gr->in, gr->out, k, p->x, gr->in, p->g, gr->out, 1.0f,
                        gr->dst, gr->ld);
            p = p->next;
            continue;
        }
        if (!reserve_pack(ctx, (size_t)k * (size_t)(gr->in + gr->out), (size_t)(gr->in + gr->out)))
            return;
        float *xs = ctx->pack, *gs = ctx->pack + (size_t)k * gr->in;
        int r0 = 0;
        for (p = first; p != NULL && r0 < k; p = p->next) {
            if (p->ldx == gr->in) /* contiguous rows: one copy */
                memcpy(xs + (size_t)r0 * gr->in, p->x, (size_t)p->rows * gr->in * sizeof(float));
            else
                for (int r = 0; r < p->rows; r++)
                    memcpy(xs + (size_t)(r0 + r) * gr->in, p->x + (size_t)r * p->ldx,
                           (size_t)gr->in * sizeof(float));
            memcpy(gs + (size_t)r0 * gr->out, p->g, (size_t)p->rows * gr->out * sizeof(float));
            r0 += p->rows;
        }
        fivo__sgemm(ctx, true, false, gr->in, gr->out, k, xs, gr->in, gs, gr->out, 1.0f, gr->dst,
                    gr->ld);
    }
}

void fivo__wgrad_flush(fivo_ctx *ctx)
{
    for (int i = 0; i < ctx->nwg && ctx->status == FIVO_OK; i++) {
        if (ctx->wg[i].bias)
            flush_bias(ctx, &ctx->wg[i]);
        else
            flush_weight(ctx, &ctx->wg[i]);
    }
    for (int i = 0; i < ctx->nwg; i++)
        ctx->wg[i].streamed = false;
    ctx->wgrad_streamed = false;
    ctx->nwg = 0;
    ctx->wg_last = 0;
}
