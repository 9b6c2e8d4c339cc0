/* Matrix products (through gemm.c): fivo_matmul and the fused linear layer
 * (x @ w + b, optional ReLU) that Linear and MLP record as one node. */
#include "ctx_internal.h"
#include "ops_internal.h"
#include "gemm.h"


static void matmul_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
    if (c->grad == NULL)
        return;
    bool ta = n->i[0] != 0, tb = n->i[1] != 0;
    int m = c->rows, nn = c->cols;
    int k = ta ? a->rows : a->cols;
    const float *dc = c->grad;
    bool fresh;
    if (fivo__req(a)) {
        float *da = fivo__grad_fresh(ctx, a, &fresh);
        float beta = fresh ? 0.0f : 1.0f; /* a first gradient overwrites */
        if (da == NULL)
            return;
        if (!ta) /* dA = dC opB^T */
            fivo__sgemm(ctx, false, !tb, m, k, nn, dc, nn, b->data, b->cols, beta, da, a->cols);
        else /* dA = opB dC^T */
            fivo__sgemm(ctx, tb, true, k, m, nn, b->data, b->cols, dc, nn, beta, da, a->cols);
    }
    if (fivo__req(b)) {
        float *db = fivo__grad_fresh(ctx, b, &fresh);
        float beta = fresh ? 0.0f : 1.0f;
        if (db == NULL)
            return;
        if (!tb) /* dB = opA^T dC */
            fivo__sgemm(ctx, !ta, false, k, nn, m, a->data, a->cols, dc, nn, beta, db, b->cols);
        else /* dB = dC^T opA */
            fivo__sgemm(ctx, true, ta, nn, k, m, dc, nn, a->data, a->cols, beta, db, b->cols);
    }
}

fivo_tensor *fivo_matmul(fivo_ctx *ctx, const fivo_tensor *a, bool trans_a, const fivo_tensor *b,
                         bool trans_b)
{
    int m = trans_a ? a->cols : a->rows;
    int k = trans_a ? a->rows : a->cols;
    int k2 = trans_b ? b->cols : b->rows;
    int nn = trans_b ? b->rows : b->cols;
    if (k != k2)
        return fivo__bad(ctx, m, nn, "matmul: inner sizes differ: op(a) is %dx%d, op(b) is %dx%d", m, k,
                         k2, nn);
    fivo_tensor *c = fivo__tensor(ctx, m, nn);
    if (c == &ctx->dummy)
        return c;
    fivo__sgemm(ctx, trans_a, trans_b, m, nn, k, a->data, a->cols, b->data, b->cols, 0.0f, c->data,
                nn);
    if (fivo__wants(ctx, a) || fivo__wants(ctx, b)) {
        fivo_node *n = fivo__record(ctx, matmul_backward, c);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)a;
            n->in[1] = (fivo_tensor *)b;
            n->i[0] = trans_a;
            n->i[1] = trans_b;
        }
    }
    return c;
}

/* acc[j] = sum_r g[r, j] in double; with y given, g is first masked in
 * place by y > 0 (ReLU backward: y->grad is read by no one after its
 * node). Restrict parameters and no inlining, so the loops vectorise. */
FIVO_KERNEL static void col_sums_kernel(int rows, int cols, const float *restrict y,
                                                      float *restrict g, double *restrict acc)
{
    for (int j = 0; j < cols; j++)
        acc[j] = 0.0;
    for (int r = 0; r < rows; r++) {
        float *restrict gr = g + (size_t)r * cols;
        if (y != NULL) {
            const float *restrict yr = y + (size_t)r * cols;
            for (int j = 0; j < cols; j++)
                gr[j] = yr[j] > 0.0f ? gr[j] : 0.0f;
        }
        for (int j = 0; j < cols; j++)
            acc[j] += (double)gr[j];
    }
}

FIVO_KERNEL static void relu_mask_kernel(size_t n, const float *restrict y,
                                                       float *restrict g)
{
    for (size_t i = 0; i < n; i++)
        g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

FIVO_KERNEL static void add_double_kernel(int n, const double *restrict acc,
                                                        float *restrict out)
{
    for (int j = 0; j < n; j++)
        out[j] += (float)acc[j];
}

/* Column sums of g (rows x cols) added into out (1 x cols), in double. */
void fivo__add_col_sums(fivo_ctx *ctx, const float *g, int rows, int cols, float *out)
{
    double *acc = fivo__alloc(ctx, (size_t)cols * sizeof(double));
    if (acc == NULL)
        return;
    col_sums_kernel(rows, cols, NULL, (float *)g, acc);
    add_double_kernel(cols, acc, out);
}

static void linear_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    int rows = y->rows, out = y->cols, in = x->cols;
    float *g = y->grad;
    bool relu = n->i[0] != 0;
    if (b != NULL && fivo__req(b) && fivo__deferrable(ctx, b)) {
        /* a parameter's bias: one running sum over every step's rows */
        fivo__defer_bias(ctx, b->grad, out, relu ? y->data : NULL, g, rows);
    } else if (b != NULL && fivo__req(b)) {
        /* ReLU mask and bias sums in one pass */
        double *acc = fivo__alloc(ctx, (size_t)out * sizeof(double));
        float *db = fivo__grad(ctx, b);
        if (acc == NULL || db == NULL)
            return;
        col_sums_kernel(rows, out, relu ? y->data : NULL, g, acc);
        add_double_kernel(out, acc, db);
    } else if (relu) {
        relu_mask_kernel(fivo_tensor_size(y), y->data, g);
    }
    bool fresh;
    fivo_tensor *pre = n->aux;
    if (pre != NULL && fivo__req(pre)) {
        /* d pre = the (masked) output gradient, copied: other consumers of
         * pre may still add into its gradient */
        float *dp = fivo__grad_fresh(ctx, pre, &fresh);
        size_t sz = fivo_tensor_size(y);
        if (dp != NULL && fresh)
            memcpy(dp, g, sz * sizeof(float));
        else if (dp != NULL)
            for (size_t i = 0; i < sz; i++)
                dp[i] += g[i];
    }
    if (fivo__req(w) && fivo__deferrable(ctx, w)) {
        /* a parameter: one product over all steps at the end of backward */
        fivo__defer_wgrad(ctx, w->grad, out, in, out, x->data, in, g, rows);
    } else if (fivo__req(w)) {
        float *dw = fivo__grad_fresh(ctx, w, &fresh);
        if (dw != NULL)
            fivo__sgemm(ctx, true, false, in, out, rows, x->data, in, g, out, fresh ? 0.0f : 1.0f, dw,
                        out);
    }
    if (fivo__req(x)) {
        /* x's gradient usually arrives here first: sgemm overwrites it */
        float *dx = fivo__grad_fresh(ctx, x, &fresh);
        if (dx != NULL)
            fivo__sgemm(ctx, false, true, rows, in, out, g, out, w->data, out, fresh ? 0.0f : 1.0f, dx,
                        in);
    }
}

/* y = b (+ pre) row by row, the sgemm's addend. */
FIVO_KERNEL static void preload_kernel(int rows, int out, const float *restrict b,
                                       const float *restrict pre, float *restrict y)
{
    for (int r = 0; r < rows; r++) {
        float *restrict yr = y + (size_t)r * out;
        const float *restrict pr = pre + (size_t)r * out;
        if (b != NULL)
            for (int j = 0; j < out; j++)
                yr[j] = pr[j] + b[j];
        else
            for (int j = 0; j < out; j++)
                yr[j] = pr[j];
    }
}

FIVO_KERNEL static void broadcast_kernel(int rows, int out, const float *restrict b, float *restrict y)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < out; j++)
            y[(size_t)r * out + j] = b[j];
}

FIVO_KERNEL static void relu_kernel(size_t n, float *restrict y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

fivo_tensor *fivo__linear_pre(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                              const fivo_tensor *b, const fivo_tensor *pre, bool relu)
{
    if (x->cols != w->rows || (b != NULL && (b->rows != 1 || b->cols != w->cols)) ||
        (pre != NULL && (pre->rows != x->rows || pre->cols != w->cols)))
        return fivo__bad(ctx, x->rows, w->cols, "linear: x is %dx%d, w is %dx%d, b is %dx%d, pre is %dx%d",
                         x->rows, x->cols, w->rows, w->cols, b ? b->rows : 0, b ? b->cols : 0,
                         pre ? pre->rows : 0, pre ? pre->cols : 0);
    int rows = x->rows, out = w->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, out);
    if (y == &ctx->dummy)
        return y;
    float beta = 0.0f;
    if (pre != NULL) {
        preload_kernel(rows, out, b != NULL ? b->data : NULL, pre->data, y->data);
        beta = 1.0f;
    } else if (b != NULL) { /* preload the bias so sgemm adds onto it */
        broadcast_kernel(rows, out, b->data, y->data);
        beta = 1.0f;
    }
    fivo__sgemm(ctx, false, false, rows, out, x->cols, x->data, x->cols, w->data, out, beta, y->data,
                out);
    if (relu)
        relu_kernel(fivo_tensor_size(y), y->data);
    if (fivo__wants(ctx, x) || fivo__wants(ctx, w) || fivo__wants(ctx, b) || fivo__wants(ctx, pre)) {
        fivo_node *n = fivo__record(ctx, linear_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)x;
            n->in[1] = (fivo_tensor *)w;
            n->in[2] = (fivo_tensor *)b;
            n->aux = (void *)pre;
            n->i[0] = relu;
        }
    }
    return y;
}

fivo_tensor *fivo__linear(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                          const fivo_tensor *b, bool relu)
{
    return fivo__linear_pre(ctx, x, w, b, NULL, relu);
}
