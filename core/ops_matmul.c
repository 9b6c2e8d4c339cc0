/* Matrix products on cblas_sgemm: fivo_matmul and the fused linear layer
 * (x @ w + b, optional ReLU) that Linear and MLP record as one node. */
#include "ctx_internal.h"
#include "ops_internal.h"

#include <cblas.h>

static inline enum CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

static void matmul_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
    if (c->grad == NULL)
        return;
    bool ta = n->i[0] != 0, tb = n->i[1] != 0;
    int m = c->rows, nn = c->cols;
    int k = ta ? a->rows : a->cols;
    const float *dc = c->grad;
    if (fivo__req(a)) {
        float *da = fivo__grad(ctx, a);
        if (!ta) /* dA = dC opB^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tr(!tb), m, k, nn, 1.0f, dc, nn, b->data, b->cols,
                        1.0f, da, a->cols);
        else /* dA = opB dC^T */
            cblas_sgemm(CblasRowMajor, tr(tb), CblasTrans, k, m, nn, 1.0f, b->data, b->cols, dc, nn,
                        1.0f, da, a->cols);
    }
    if (fivo__req(b)) {
        float *db = fivo__grad(ctx, b);
        if (!tb) /* dB = opA^T dC */
            cblas_sgemm(CblasRowMajor, tr(!ta), CblasNoTrans, k, nn, m, 1.0f, a->data, a->cols, dc, nn,
                        1.0f, db, b->cols);
        else /* dB = dC^T opA */
            cblas_sgemm(CblasRowMajor, CblasTrans, tr(ta), nn, k, m, 1.0f, dc, nn, a->data, a->cols,
                        1.0f, db, b->cols);
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
    cblas_sgemm(CblasRowMajor, tr(trans_a), tr(trans_b), m, nn, k, 1.0f, a->data, a->cols, b->data,
                b->cols, 0.0f, c->data, nn);
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

/* Column sums of g (rows x cols) added into out (1 x cols), in double. */
void fivo__add_col_sums(fivo_ctx *ctx, const float *g, int rows, int cols, float *out)
{
    double *acc = fivo__alloc(ctx, (size_t)cols * sizeof(double));
    if (acc == NULL)
        return;
    for (int j = 0; j < cols; j++)
        acc[j] = g[j];
    for (int r = 1; r < rows; r++) {
        const float *gr = g + (size_t)r * cols;
        for (int j = 0; j < cols; j++)
            acc[j] += gr[j];
    }
    for (int j = 0; j < cols; j++)
        out[j] += (float)acc[j];
}

static void linear_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    int rows = y->rows, out = y->cols, in = x->cols;
    const float *g = y->grad;
    if (n->i[0]) { /* ReLU: mask the incoming gradient */
        float *gm = fivo__alloc_floats(ctx, fivo_tensor_size(y));
        if (gm == NULL)
            return;
        size_t sz = fivo_tensor_size(y);
        for (size_t i = 0; i < sz; i++)
            gm[i] = y->data[i] > 0.0f ? g[i] : 0.0f;
        g = gm;
    }
    if (b != NULL && fivo__req(b))
        fivo__add_col_sums(ctx, g, rows, out, fivo__grad(ctx, b));
    if (fivo__req(w))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1.0f, x->data, in, g, out,
                    1.0f, fivo__grad(ctx, w), out);
    if (fivo__req(x))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1.0f, g, out, w->data, out,
                    1.0f, fivo__grad(ctx, x), in);
}

fivo_tensor *fivo__linear(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                          const fivo_tensor *b, bool relu)
{
    if (x->cols != w->rows || (b != NULL && (b->rows != 1 || b->cols != w->cols)))
        return fivo__bad(ctx, x->rows, w->cols, "linear: x is %dx%d, w is %dx%d, b is %dx%d", x->rows,
                         x->cols, w->rows, w->cols, b ? b->rows : 0, b ? b->cols : 0);
    int rows = x->rows, out = w->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, out);
    if (y == &ctx->dummy)
        return y;
    float beta = 0.0f;
    if (b != NULL) { /* preload the bias so sgemm adds onto it */
        for (int r = 0; r < rows; r++)
            memcpy(y->data + (size_t)r * out, b->data, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, x->cols, 1.0f, x->data, x->cols,
                w->data, out, beta, y->data, out);
    if (relu) {
        size_t sz = fivo_tensor_size(y);
        for (size_t i = 0; i < sz; i++)
            y->data[i] = y->data[i] > 0.0f ? y->data[i] : 0.0f;
    }
    if (fivo__wants(ctx, x) || fivo__wants(ctx, w) || fivo__wants(ctx, b)) {
        fivo_node *n = fivo__record(ctx, linear_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)x;
            n->in[1] = (fivo_tensor *)w;
            n->in[2] = (fivo_tensor *)b;
            n->i[0] = relu;
        }
    }
    return y;
}
