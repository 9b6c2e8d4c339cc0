/* Reductions, all accumulated in double: row sums, total sum, and the
 * per-sequence logsumexp over particle groups. */
#include "ops_internal.h"

static void sum_cols_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    float *da = fivo__grad(ctx, a);
    int c = a->cols;
    for (int r = 0; r < a->rows; r++) {
        float g = y->grad[r];
        float *d = da + (size_t)r * c;
        for (int j = 0; j < c; j++)
            d[j] += g;
    }
}

fivo_tensor *fivo_sum_cols(fivo_ctx *ctx, const fivo_tensor *a)
{
    fivo_tensor *y = fivo__tensor(ctx, a->rows, 1);
    if (y == &ctx->dummy)
        return y;
    int c = a->cols;
    for (int r = 0; r < a->rows; r++) {
        const float *ar = a->data + (size_t)r * c;
        double s = 0.0;
        for (int j = 0; j < c; j++)
            s += ar[j];
        y->data[r] = (float)s;
    }
    if (fivo__wants(ctx, a)) {
        fivo_node *n = fivo__record(ctx, sum_cols_backward, y);
        if (n != NULL)
            n->in[0] = (fivo_tensor *)a;
    }
    return y;
}

static void sum_all_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    float *da = fivo__grad(ctx, a);
    float g = y->grad[0];
    size_t sz = fivo_tensor_size(a);
    for (size_t i = 0; i < sz; i++)
        da[i] += g;
}

fivo_tensor *fivo_sum_all(fivo_ctx *ctx, const fivo_tensor *a)
{
    fivo_tensor *y = fivo__tensor(ctx, 1, 1);
    if (y == &ctx->dummy)
        return y;
    double s = 0.0;
    size_t sz = fivo_tensor_size(a);
    for (size_t i = 0; i < sz; i++)
        s += a->data[i];
    y->data[0] = (float)s;
    if (fivo__wants(ctx, a)) {
        fivo_node *n = fivo__record(ctx, sum_all_backward, y);
        if (n != NULL)
            n->in[0] = (fivo_tensor *)a;
    }
    return y;
}

static void lse_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    int groups = n->i[0], B = y->rows;
    const double *lse = n->aux;
    float *da = fivo__grad(ctx, a);
    for (int b = 0; b < B; b++) {
        double g = y->grad[b];
        if (isinf(lse[b]) && lse[b] < 0)
            continue; /* every weight -inf: no gradient */
        for (int k = 0; k < groups; k++) {
            size_t i = (size_t)k * B + b;
            da[i] += (float)(g * exp((double)a->data[i] - lse[b]));
        }
    }
}

fivo_tensor *fivo_logsumexp_groups(fivo_ctx *ctx, const fivo_tensor *a, int groups)
{
    if (a->cols != 1 || groups <= 0 || a->rows % groups != 0)
        return fivo__bad(ctx, groups > 0 && a->rows % groups == 0 ? a->rows / groups : 1, 1,
                         "logsumexp_groups: a is %dx%d, need (groups * B) x 1 with groups = %d", a->rows,
                         a->cols, groups);
    int B = a->rows / groups;
    fivo_tensor *y = fivo__tensor(ctx, B, 1);
    if (y == &ctx->dummy)
        return y;
    bool wants = fivo__wants(ctx, a);
    double *lse = wants ? fivo__alloc(ctx, (size_t)B * sizeof(double)) : NULL;
    for (int b = 0; b < B; b++) {
        double m = -INFINITY;
        bool nan = false;
        for (int k = 0; k < groups; k++) {
            double v = a->data[(size_t)k * B + b];
            if (v != v)
                nan = true;
            else if (v > m)
                m = v;
        }
        double r;
        if (nan)
            r = NAN;
        else if (isinf(m))
            r = m; /* all -inf -> -inf; any +inf -> +inf */
        else {
            double s = 0.0;
            for (int k = 0; k < groups; k++)
                s += exp((double)a->data[(size_t)k * B + b] - m);
            r = m + log(s);
        }
        y->data[b] = (float)r;
        if (lse != NULL)
            lse[b] = r;
    }
    if (wants && lse != NULL) {
        fivo_node *n = fivo__record(ctx, lse_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)a;
            n->i[0] = groups;
            n->aux = lse;
        }
    }
    return y;
}
