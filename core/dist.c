/* Distributions: the Normal scale parameterisation, reparameterised Normal
 * samples, Bernoulli samples and categorical (inverse-CDF) draws. */
#include "fastmath.h"
#include "ops_internal.h"

#include <fivo/dist.h>
#include <fivo/rng.h>

#include <stdlib.h>

static void normal_scale_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *raw = n->in[0], *y = n->out;
    float bias = n->f[0], smin = n->f[1];
    float *d = fivo__grad(ctx, raw);
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++) {
        float v = raw->data[i] + bias;
        /* y = max(softplus(v), smin) > smin exactly when softplus(v) > smin:
         * the max passes gradient to softplus (no softplus recomputed). */
        if (y->data[i] > smin)
            d[i] += y->grad[i] * fivo__fsigmoid(v);
    }
}

fivo_tensor *fivo_normal_scale(fivo_ctx *ctx, const fivo_tensor *raw, float raw_sigma_bias,
                               float sigma_min)
{
    fivo_tensor *y = fivo__tensor(ctx, raw->rows, raw->cols);
    if (y == &ctx->dummy)
        return y;
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++) {
        float s = fivo__softplusf(raw->data[i] + raw_sigma_bias);
        y->data[i] = s <= sigma_min ? sigma_min : s;
    }
    if (fivo__wants(ctx, raw)) {
        fivo_node *n = fivo__record(ctx, normal_scale_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)raw;
            n->f[0] = raw_sigma_bias;
            n->f[1] = sigma_min;
        }
    }
    return y;
}

static void normal_sample_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *mu = n->in[0], *sg = n->in[1], *y = n->out;
    const float *eps = n->aux;
    int rows = y->rows, c = y->cols;
    size_t mstep = mu->rows == 1 ? 0 : (size_t)c, sstep = sg->rows == 1 ? 0 : (size_t)c;
    float *dmu = fivo__req(mu) ? fivo__grad(ctx, mu) : NULL;
    float *dsg = fivo__req(sg) ? fivo__grad(ctx, sg) : NULL;
    for (int r = 0; r < rows; r++) {
        const float *g = y->grad + (size_t)r * c;
        const float *e = eps + (size_t)r * c;
        if (dmu != NULL) {
            float *d = dmu + (size_t)r * mstep;
            for (int j = 0; j < c; j++)
                d[j] += g[j];
        }
        if (dsg != NULL) {
            float *d = dsg + (size_t)r * sstep;
            for (int j = 0; j < c; j++)
                d[j] += g[j] * e[j];
        }
    }
}

fivo_tensor *fivo__normal_sample_eps(fivo_ctx *ctx, const fivo_tensor *mu, const fivo_tensor *sigma,
                                     const float *eps, int rows)
{
    int c = mu->cols;
    if (sigma->cols != c || (mu->rows != rows && mu->rows != 1) || (sigma->rows != rows && sigma->rows != 1))
        return fivo__bad(ctx, rows, c, "normal_sample: mu is %dx%d, sigma is %dx%d", mu->rows, mu->cols,
                         sigma->rows, sigma->cols);
    fivo_tensor *y = fivo__tensor(ctx, rows, c);
    if (y == &ctx->dummy)
        return y;
    size_t mstep = mu->rows == 1 ? 0 : (size_t)c, sstep = sigma->rows == 1 ? 0 : (size_t)c;
    for (int r = 0; r < rows; r++) {
        const float *m = mu->data + (size_t)r * mstep, *s = sigma->data + (size_t)r * sstep;
        const float *e = eps + (size_t)r * c;
        float *yr = y->data + (size_t)r * c;
        for (int j = 0; j < c; j++)
            yr[j] = m[j] + s[j] * e[j];
    }
    if (fivo__wants(ctx, mu) || fivo__wants(ctx, sigma)) {
        fivo_node *n = fivo__record(ctx, normal_sample_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)mu;
            n->in[1] = (fivo_tensor *)sigma;
            n->aux = (void *)eps;
        }
    }
    return y;
}

fivo_tensor *fivo_normal_sample(fivo_ctx *ctx, const fivo_tensor *mu, const fivo_tensor *sigma,
                                uint32_t purpose, uint32_t t)
{
    int rows = mu->rows > sigma->rows ? mu->rows : sigma->rows;
    fivo_tensor *eps = fivo_randn(ctx, purpose, t, rows, mu->cols);
    if (eps == &ctx->dummy)
        return eps;
    return fivo__normal_sample_eps(ctx, mu, sigma, eps->data, rows);
}

fivo_tensor *fivo_bernoulli_sample(fivo_ctx *ctx, const fivo_tensor *logits, uint32_t purpose, uint32_t t)
{
    fivo_tensor *y = fivo_rand_uniform(ctx, purpose, t, logits->rows, logits->cols);
    if (y == &ctx->dummy)
        return y;
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++) {
        double l = logits->data[i];
        double p = l >= 0 ? 1.0 / (1.0 + exp(-l)) : exp(l) / (1.0 + exp(l));
        y->data[i] = (double)y->data[i] < p ? 1.0f : 0.0f;
    }
    return y;
}

/* Index of the first cdf entry > target (cdf non-decreasing, length k). */
static int upper_bound(const double *cdf, int k, double target)
{
    int lo = 0, hi = k;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

fivo_status fivo_categorical_sample(const double *log_w, int k, const double *u, int n, int32_t *out)
{
    if (k <= 0 || log_w == NULL)
        return FIVO_ERR_INVALID;
    double m = -INFINITY;
    for (int i = 0; i < k; i++) {
        double v = log_w[i];
        if (v != v || v == INFINITY)
            return FIVO_ERR_NUMERIC;
        if (v > m)
            m = v;
    }
    if (m == -INFINITY)
        return FIVO_ERR_NUMERIC;
    double stack[1024];
    double *cdf = k <= 1024 ? stack : malloc((size_t)k * sizeof *cdf);
    if (cdf == NULL)
        return FIVO_ERR_NOMEM;
    double acc = 0.0;
    int last = 0; /* last index with positive weight */
    for (int i = 0; i < k; i++) {
        double w = exp(log_w[i] - m); /* exp(-inf) = 0: never chosen */
        if (w > 0.0)
            last = i;
        acc += w;
        cdf[i] = acc;
    }
    for (int s = 0; s < n; s++) {
        double target = u[s] * acc;
        int idx = upper_bound(cdf, k, target);
        out[s] = idx < k ? idx : last; /* u * total rounding up to the total */
    }
    if (cdf != stack)
        free(cdf);
    return FIVO_OK;
}
