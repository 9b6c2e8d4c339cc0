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

/* d += g (x - sigmoid(l)) over one row, the sigmoid saved by the forward. */
FIVO_KERNEL static void bernoulli_grad_row(int c, float g, const float *restrict sig,
                                           const float *restrict x, float *restrict d)
{
    for (int j = 0; j < c; j++)
        d[j] += g * (x[j] - sig[j]);
}

/* x l - softplus(l) = x l - max(l, 0) - log1p(exp(-|l|)) over one row, in
 * float (exp argument <= 0, so nothing overflows; exp clamps at -87.3, far
 * below float resolution of the sum), and sigmoid(l) from the same exp
 * (branch-free; saturates cleanly at any logit) for the backward. */
FIVO_KERNEL static void bernoulli_terms(int c, const float *restrict l, const float *restrict x,
                                        float *restrict term, float *restrict sig)
{
    for (int j = 0; j < c; j++) {
        float v = l[j];
        float e = fivo__fexp(-fabsf(v));
        float inv = 1.0f / (1.0f + e);
        term[j] = x[j] * v - (v > 0.0f ? v : 0.0f) - fivo__flog1p_unit(e);
        sig[j] = v >= 0.0f ? inv : e * inv;
    }
}

static void bernoulli_lp_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *l = n->in[0], *x = n->in[1], *y = n->out;
    const float *sig = n->aux;
    int rows = l->rows, c = l->cols;
    float *dl = fivo__grad(ctx, l);
    if (dl == NULL)
        return;
    for (int r = 0; r < rows; r++)
        bernoulli_grad_row(c, y->grad[r], sig + (size_t)r * c, x->data + (size_t)r * c,
                           dl + (size_t)r * c);
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
    /* sigmoid(l) is kept for the backward when it will run; otherwise one
     * row of scratch */
    bool wants = fivo__wants(ctx, logits);
    float *term = fivo__alloc_floats(ctx, (size_t)c);
    float *sig = fivo__alloc_floats(ctx, wants ? (size_t)rows * c : (size_t)c);
    if (term == NULL || sig == NULL)
        return y;
    for (int r = 0; r < rows; r++) {
        bernoulli_terms(c, logits->data + (size_t)r * c, x->data + (size_t)r * c, term,
                        wants ? sig + (size_t)r * c : sig);
        y->data[r] = (float)fivo__sum_double(term, c); /* in double */
    }
    if (wants) {
        fivo_node *n = fivo__record(ctx, bernoulli_lp_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)logits;
            n->in[1] = (fivo_tensor *)x;
            n->aux = sig;
        }
    }
    return y;
}
