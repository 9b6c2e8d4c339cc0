/* Fused log-densities (one node each, values and row sums in double):
 * diagonal Normal and Bernoulli-with-logits. */
#include "fastmath.h"
#include "ops_internal.h"

#define HALF_LOG_2PI 0.91893853320467274178

/* mu and sigma may be full-shaped or 1 x cols (row-broadcast). */
static inline bool fits(const fivo_tensor *x, const fivo_tensor *p)
{
    return p->cols == x->cols && (p->rows == x->rows || p->rows == 1);
}

static void normal_lp_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *x = n->in[0], *mu = n->in[1], *sg = n->in[2], *y = n->out;
    int rows = x->rows, c = x->cols;
    float *dx = fivo__req(x) ? fivo__grad(ctx, x) : NULL;
    float *dmu = fivo__req(mu) ? fivo__grad(ctx, mu) : NULL;
    float *dsg = fivo__req(sg) ? fivo__grad(ctx, sg) : NULL;
    size_t mstep = mu->rows == 1 ? 0 : (size_t)c, sstep = sg->rows == 1 ? 0 : (size_t)c;
    for (int r = 0; r < rows; r++) {
        double g = y->grad[r];
        const float *xr = x->data + (size_t)r * c;
        const float *mr = mu->data + (size_t)r * mstep;
        const float *sr = sg->data + (size_t)r * sstep;
        for (int j = 0; j < c; j++) {
            double s = sr[j];
            double z = ((double)xr[j] - mr[j]) / s;
            double gz = g * z / s; /* d/dmu */
            if (dx != NULL)
                dx[(size_t)r * c + j] -= (float)gz;
            if (dmu != NULL)
                dmu[(size_t)r * mstep + j] += (float)gz;
            if (dsg != NULL)
                dsg[(size_t)r * sstep + j] += (float)(g * (z * z - 1.0) / s);
        }
    }
}

fivo_tensor *fivo_normal_log_prob(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *mu,
                                  const fivo_tensor *sigma)
{
    if (!fits(x, mu) || !fits(x, sigma))
        return fivo__bad(ctx, x->rows, 1, "normal_log_prob: x is %dx%d, mu %dx%d, sigma %dx%d", x->rows,
                         x->cols, mu->rows, mu->cols, sigma->rows, sigma->cols);
    int rows = x->rows, c = x->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, 1);
    if (y == &ctx->dummy)
        return y;
    size_t mstep = mu->rows == 1 ? 0 : (size_t)c, sstep = sigma->rows == 1 ? 0 : (size_t)c;
    for (int r = 0; r < rows; r++) {
        const float *xr = x->data + (size_t)r * c;
        const float *mr = mu->data + (size_t)r * mstep;
        const float *sr = sigma->data + (size_t)r * sstep;
        double sum_log_s = 0.0, sum_z2 = 0.0;
        for (int j = 0; j < c; j++) {
            double s = sr[j];
            double z = ((double)xr[j] - mr[j]) / s;
            sum_z2 += z * z;
            sum_log_s += log(s);
        }
        y->data[r] = (float)(-HALF_LOG_2PI * c - sum_log_s - 0.5 * sum_z2);
    }
    if (fivo__wants(ctx, x) || fivo__wants(ctx, mu) || fivo__wants(ctx, sigma)) {
        fivo_node *n = fivo__record(ctx, normal_lp_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)x;
            n->in[1] = (fivo_tensor *)mu;
            n->in[2] = (fivo_tensor *)sigma;
        }
    }
    return y;
}

static void bernoulli_lp_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *l = n->in[0], *x = n->in[1], *y = n->out;
    int rows = l->rows, c = l->cols;
    float *dl = fivo__grad(ctx, l);
    for (int r = 0; r < rows; r++) {
        double g = y->grad[r];
        const float *lr = l->data + (size_t)r * c;
        const float *xr = x->data + (size_t)r * c;
        float *d = dl + (size_t)r * c;
        float gf = (float)g;
        /* Branch-free float sigmoid (vectorised; the profile's hot spot at
         * 88 notes x 16 rows per step); saturates cleanly at any logit. */
        for (int j = 0; j < c; j++)
            d[j] += gf * (xr[j] - fivo__fsigmoid(lr[j]));
    }
}

fivo_tensor *fivo_bernoulli_log_prob(fivo_ctx *ctx, const fivo_tensor *logits, const fivo_tensor *x)
{
    if (logits->rows != x->rows || logits->cols != x->cols)
        return fivo__bad(ctx, logits->rows, 1, "bernoulli_log_prob: logits %dx%d, x %dx%d", logits->rows,
                         logits->cols, x->rows, x->cols);
    int rows = x->rows, c = x->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, 1);
    if (y == &ctx->dummy)
        return y;
    for (int r = 0; r < rows; r++) {
        const float *lr = logits->data + (size_t)r * c;
        const float *xr = x->data + (size_t)r * c;
        double s = 0.0;
        /* x l - softplus(l) = x l - max(l, 0) - log1p(exp(-|l|)): terms in
         * vectorised float (exp argument <= 0, so nothing overflows; exp
         * clamps at -87.3, far below float resolution of the sum), summed
         * in double. */
        float term[256];
        for (int j0 = 0; j0 < c; j0 += 256) {
            int m = c - j0 < 256 ? c - j0 : 256;
            for (int j = 0; j < m; j++) {
                float v = lr[j0 + j];
                term[j] = xr[j0 + j] * v - (v > 0.0f ? v : 0.0f) -
                          fivo__flog1p_unit(fivo__fexp(-fabsf(v)));
            }
            for (int j = 0; j < m; j++)
                s += (double)term[j];
        }
        y->data[r] = (float)s;
    }
    if (fivo__wants(ctx, logits)) {
        fivo_node *n = fivo__record(ctx, bernoulli_lp_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)logits;
            n->in[1] = (fivo_tensor *)x;
        }
    }
    return y;
}
