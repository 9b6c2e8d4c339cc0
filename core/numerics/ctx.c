/* The context: arena-backed tensors, sticky errors, the tape and backward. */
#include "ctx_internal.h"
#include "gemm.h"

#include <cblas.h>
#include <fivo/internal/threads.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

FIVO_INTERNAL void fivo__arena_reset(fivo_ctx *ctx);
FIVO_INTERNAL void fivo__arena_free(fivo_ctx *ctx);

/* OpenBLAS's own pool (pthread builds): joined once we pin it to one
 * thread, so no idle worker stays behind. Weak: other BLAS builds lack it. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

fivo_ctx *fivo_ctx_new(size_t arena_bytes, size_t max_bytes)
{
    fivo_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    if (arena_bytes < 4096)
        arena_bytes = 4096;
    ctx->block_size = (arena_bytes + FIVO_ALIGN - 1) & ~(size_t)(FIVO_ALIGN - 1);
    ctx->max_bytes = max_bytes;
    ctx->grad_enabled = true;
    ctx->defer_wgrad = true;
    ctx->status = FIVO_OK;
    ctx->dummy.rows = 1;
    ctx->dummy.cols = 1;
    ctx->dummy.data = ctx->dummy_data;
    ctx->dummy.node = -1;
    /* First allocation creates the first block; do it now so the hot path
     * never sees an empty arena. */
    void *p = fivo__alloc(ctx, FIVO_ALIGN);
    (void)p;
    fivo__arena_reset(ctx);
    ctx->peak = 0;
    /* sgemm runs on one thread, whatever OPENBLAS_NUM_THREADS says: with more
     * threads OpenBLAS splits the inner dimension of large products (the
     * batched encoders' weight gradients), which changes the rounding with
     * the thread count and so breaks bit-reproducibility; and at a VRNN
     * step's sizes (16 rows) threads were measured slower anyway.
     * tests/test_determinism.cc checks 1 and 2 threads give the same bits. */
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_ != NULL)
        blas_thread_shutdown_();
    return ctx;
}

void fivo_ctx_free(fivo_ctx *ctx)
{
    if (ctx == NULL)
        return;
    fivo__arena_free(ctx);
    fivo__side_free(ctx);
    fivo__wgrad_free(ctx);
    fivo_threads_free(ctx->threads);
    free(ctx->wg);
    free(ctx->tr);
    free(ctx->pack);
    free(ctx->nodes);
    free(ctx->row_keys);
    free(ctx);
}

void fivo_ctx_reset(fivo_ctx *ctx)
{
    fivo__arena_reset(ctx);
    fivo__side_reset(ctx);
    ctx->seg_floor = 0;
    ctx->nnodes = 0;
    ctx->nwg = 0;
    ctx->wgrad_streamed = false;
    ctx->ntr = 0;
    ctx->status = FIVO_OK;
    ctx->message[0] = '\0';
}

fivo_status fivo_ctx_set_threads(fivo_ctx *ctx, int n, fivo_error *err)
{
    if (n < 1) /* a count, never "all": the caller resolves that (fivo_threads_available) */
        return fivo_error_set(err, FIVO_ERR_INVALID, "threads = %d: expected a count >= 1", n);
    if (fivo_threads_count(ctx->threads) == n)
        return FIVO_OK;
    fivo_threads_free(ctx->threads);
    ctx->threads = NULL;
    if (n == 1)
        return FIVO_OK;
    ctx->threads = fivo_threads_new(n, err);
    return ctx->threads != NULL ? FIVO_OK : (err != NULL ? err->code : FIVO_ERR_NOMEM);
}

int fivo_ctx_threads(const fivo_ctx *ctx) { return fivo_threads_count(ctx->threads); }

void fivo__ctx_set_helpers(fivo_ctx *ctx, struct fivo_threads *pool) { ctx->helpers = pool; }

double fivo_ctx_gemm_flops(const fivo_ctx *ctx) { return ctx->gemm_flops; }

void fivo_ctx_set_deferred_grads(fivo_ctx *ctx, bool on) { ctx->defer_wgrad = on; }

size_t fivo_ctx_peak_bytes(const fivo_ctx *ctx)
{
    size_t in_use = ctx->used_before;
    if (ctx->cur < ctx->nblocks)
        in_use += (size_t)(ctx->ptr - ctx->blocks[ctx->cur].base);
    return in_use > ctx->peak ? in_use : ctx->peak;
}

void fivo_ctx_set_grad_enabled(fivo_ctx *ctx, bool enabled) { ctx->grad_enabled = enabled; }
bool fivo_ctx_grad_enabled(const fivo_ctx *ctx) { return ctx->grad_enabled; }

fivo_status fivo_ctx_status(const fivo_ctx *ctx, fivo_error *err)
{
    if (err != NULL) {
        err->code = ctx->status;
        memcpy(err->message, ctx->message, sizeof err->message);
    }
    return ctx->status;
}

static fivo_status ctx_vfail(fivo_ctx *ctx, fivo_status code, const char *fmt, va_list ap)
{
    if (ctx->status == FIVO_OK && code != FIVO_OK) {
        ctx->status = code;
        vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    }
    return code;
}

fivo_status fivo_ctx_fail(fivo_ctx *ctx, fivo_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

fivo_tensor *fivo__tensor(fivo_ctx *ctx, int rows, int cols)
{
    if (rows <= 0 || cols <= 0) {
        fivo_ctx_fail(ctx, FIVO_ERR_INVALID, "tensor: invalid shape %dx%d", rows, cols);
        memset(ctx->dummy_data, 0, sizeof ctx->dummy_data);
        ctx->dummy.grad = NULL;
        return &ctx->dummy;
    }
    size_t n = (size_t)rows * (size_t)cols;
    /* sizeof(fivo_tensor) is 32, so the data that follows stays aligned. */
    char *mem = fivo__alloc(ctx, sizeof(fivo_tensor) + n * sizeof(float));
    if (mem == NULL) {
        memset(ctx->dummy_data, 0, sizeof ctx->dummy_data);
        ctx->dummy.grad = NULL;
        return &ctx->dummy;
    }
    fivo_tensor *t = (fivo_tensor *)mem;
    t->rows = rows;
    t->cols = cols;
    t->data = (float *)(mem + ((sizeof(fivo_tensor) + FIVO_ALIGN - 1) & ~(size_t)(FIVO_ALIGN - 1)));
    t->grad = NULL;
    t->node = -1;
    t->flags = 0;
    return t;
}

fivo_tensor *fivo__bad(fivo_ctx *ctx, int rows, int cols, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(ctx, FIVO_ERR_INVALID, fmt, ap);
    va_end(ap);
    if (rows <= 0 || cols <= 0)
        rows = cols = 1;
    fivo_tensor *t = fivo__tensor(ctx, rows, cols);
    memset(t->data, 0, fivo_tensor_size(t) * sizeof(float));
    return t;
}

fivo_tensor *fivo_tensor_new(fivo_ctx *ctx, int rows, int cols) { return fivo__tensor(ctx, rows, cols); }

fivo_tensor *fivo_tensor_zeros(fivo_ctx *ctx, int rows, int cols)
{
    fivo_tensor *t = fivo__tensor(ctx, rows, cols);
    memset(t->data, 0, fivo_tensor_size(t) * sizeof(float));
    return t;
}

fivo_tensor *fivo_tensor_fill(fivo_ctx *ctx, int rows, int cols, float value)
{
    fivo_tensor *t = fivo__tensor(ctx, rows, cols);
    size_t n = fivo_tensor_size(t);
    for (size_t i = 0; i < n; i++)
        t->data[i] = value;
    return t;
}

fivo_tensor *fivo_tensor_from(fivo_ctx *ctx, int rows, int cols, const float *src)
{
    fivo_tensor *t = fivo__tensor(ctx, rows, cols);
    if (t != &ctx->dummy && src != NULL)
        memcpy(t->data, src, fivo_tensor_size(t) * sizeof(float));
    return t;
}

fivo_node *fivo__record(fivo_ctx *ctx, fivo_backward_fn fn, fivo_tensor *out)
{
    if (out == &ctx->dummy)
        return NULL;
    if (ctx->nnodes == ctx->cap_nodes) {
        int cap = ctx->cap_nodes ? 2 * ctx->cap_nodes : 1024;
        fivo_node *n = realloc(ctx->nodes, (size_t)cap * sizeof *n);
        if (n == NULL) {
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "tape: cannot grow to %d nodes", cap);
            return NULL;
        }
        ctx->nodes = n;
        ctx->cap_nodes = cap;
    }
    fivo_node *n = &ctx->nodes[ctx->nnodes];
    n->backward = fn;
    n->out = out;
    n->out2 = NULL;
    n->in[0] = n->in[1] = n->in[2] = NULL;
    n->aux = NULL;
    out->node = ctx->nnodes++;
    out->flags |= FIVO_TENSOR_REQUIRES_GRAD;
    return n;
}

fivo_status fivo_ctx_backward(fivo_ctx *ctx, fivo_tensor *loss, fivo_error *err)
{
    if (ctx->status != FIVO_OK)
        return fivo_ctx_status(ctx, err);
    if (loss == NULL || loss->rows != 1 || loss->cols != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "backward: the loss must be 1x1, got %dx%d",
                              loss ? loss->rows : 0, loss ? loss->cols : 0);
    if (!(loss->flags & FIVO_TENSOR_REQUIRES_GRAD))
        return FIVO_OK; /* nothing on the tape leads to it */
    float *g = fivo__grad(ctx, loss);
    if (g == NULL)
        return fivo_ctx_status(ctx, err);
    g[0] += 1.0f;
    for (int i = loss->node; i >= 0; i--) {
        fivo_node *n = &ctx->nodes[i];
        if (n->out->grad == NULL && (n->out2 == NULL || n->out2->grad == NULL))
            continue; /* no gradient reached this node */
        n->backward(ctx, n);
    }
    fivo__wgrad_flush(ctx);
    return fivo_ctx_status(ctx, err);
}
