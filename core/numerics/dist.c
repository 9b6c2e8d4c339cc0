/* Distributions: the Normal scale parameterisation, reparameterised Normal
 * samples, Bernoulli samples and categorical (inverse-CDF) draws. */
#include "fastmath.h"
#include "ops_internal.h"

#include <fivo/dist.h>
#include <fivo/rng.h>

#include <stdlib.h>

/* Restrict-parameter kernels, not inlined, so the loops vectorise (see
 * resq_row below). */
FIVO_KERNEL static void scale_grad_kernel(size_t n, float bias, float smin,
                                                        const float *restrict raw,
                                                        const float *restrict y,
                                                        const float *restrict g, float *restrict d)
{
    for (size_t i = 0; i < n; i++) {
        /* y = max(softplus(v), smin) > smin exactly when softplus(v) > smin:
         * the max passes gradient to softplus (no softplus recomputed). */
        float v = g[i] * fivo__fsigmoid(raw[i] + bias);
        d[i] += y[i] > smin ? v : 0.0f;
    }
}

FIVO_KERNEL static void scale_kernel(size_t n, float bias, float smin,
                                                   const float *restrict raw, float *restrict y)
{
    for (size_t i = 0; i < n; i++) {
        float s = fivo__softplusf(raw[i] + bias);
        y[i] = s <= smin ? smin : s;
    }
}

static void normal_scale_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *raw = n->in[0], *y = n->out;
    float *d = fivo__grad(ctx, raw);
    if (d != NULL)
        scale_grad_kernel(fivo_tensor_size(y), n->f[0], n->f[1], raw->data, y->data, y->grad, d);
}

fivo_tensor *fivo_normal_scale(fivo_ctx *ctx, const fivo_tensor *raw, float raw_sigma_bias,
                               float sigma_min)
{
    fivo_tensor *y = fivo__tensor(ctx, raw->rows, raw->cols);
    if (y == &ctx->dummy)
        return y;
    scale_kernel(fivo_tensor_size(y), raw_sigma_bias, sigma_min, raw->data, y->data);
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

/* ---- the fused res_q latent draw ---------------------------------------- */

typedef struct resq_saved {
    const float *eps;
    float *u;     /* (z - p_mean) / p_sigma */
    float *isp;   /* 1 / p_sigma */
    float *slp;   /* d p_sigma / d P_raw: sigmoid(P_raw + bias), 0 where clamped */
    float *isq;   /* 1 / q_sigma (with a proposal) */
    float *slq;   /* d q_sigma / d Q_raw */
} resq_saved;

/* sigma = max(softplus(v), smin) (the bits of fivo_normal_scale) and its
 * slope in v: sigmoid(v), or 0 where the floor holds. */
static inline void scale_and_slope(float v, float smin, float *sigma, float *slope)
{
    float e = fivo__fexp(-fabsf(v));
    float s = (v > 0.0f ? v : 0.0f) + fivo__flog1p_unit(e);
    float inv = 1.0f / (1.0f + e);
    float sig = v >= 0.0f ? inv : e * inv;
    int floor = s <= smin;
    *sigma = floor ? smin : s;
    *slope = floor ? 0.0f : sig;
}

/* d[0..n) = v (fresh buffer) or += v. */
static inline void put(float *restrict d, const float *restrict v, int n, bool fresh)
{
    if (fresh)
        memcpy(d, v, (size_t)n * sizeof(float));
    else
        for (int j = 0; j < n; j++)
            d[j] += v[j];
}

/* One row with a proposal. The row kernels are separate non-inlined
 * functions with restrict parameters: GCC vectorises their loops only when
 * it knows the pointers do not alias (inlined, it drops that knowledge and
 * gives up on the many run-time alias checks). */
FIVO_KERNEL static void resq_row(int Z, float bias, float smin, const float *restrict pr,
                     const float *restrict qr, const float *restrict er, float *restrict zr,
                     float *restrict u, float *restrict isp, float *restrict slp,
                     float *restrict isq, float *restrict slq, float *restrict term)
{
    for (int j = 0; j < Z; j++) {
        float sp, sq;
        scale_and_slope(pr[Z + j] + bias, smin, &sp, &slp[j]);
        scale_and_slope(qr[Z + j] + bias, smin, &sq, &slq[j]);
        float pm = pr[j];
        float zz = (qr[j] + pm) + sq * er[j];
        float ip = 1.0f / sp;
        float uu = (zz - pm) * ip;
        zr[j] = zz;
        u[j] = uu;
        isp[j] = ip;
        isq[j] = 1.0f / sq;
        /* two logs, not one of the ratio: that could leave the normal range */
        term[j] = 0.5f * (er[j] * er[j] - uu * uu) + (fivo__flog(sq) - fivo__flog(sp));
    }
}

/* One row with q = p. */
FIVO_KERNEL static void prior_row(int Z, float bias, float smin, const float *restrict pr,
                      const float *restrict er, float *restrict zr, float *restrict u,
                      float *restrict isp, float *restrict slp)
{
    for (int j = 0; j < Z; j++) {
        float sp;
        scale_and_slope(pr[Z + j] + bias, smin, &sp, &slp[j]);
        zr[j] = pr[j] + sp * er[j];
        u[j] = er[j];
        isp[j] = 1.0f / sp;
    }
}

FIVO_KERNEL static void resq_row_backward(int Z, float gw, const float *restrict gz, const float *restrict e,
                              const float *restrict u, const float *restrict isp,
                              const float *restrict slp, const float *restrict isq,
                              const float *restrict slq, float *restrict dpm, float *restrict dpr,
                              float *restrict dqm, float *restrict dqr)
{
    for (int j = 0; j < Z; j++) {
        /* z's total gradient (log p(z) included); log q's paths through z
         * cancel, leaving -log q_sigma. */
        float gzt = gz[j] - gw * u[j] * isp[j];
        dpm[j] = gz[j]; /* gzt through q_mean plus gw u / sigma from log p */
        dpr[j] = gw * (u[j] * u[j] - 1.0f) * isp[j] * slp[j];
        dqm[j] = gzt;
        dqr[j] = (gzt * e[j] + gw * isq[j]) * slq[j];
    }
}

FIVO_KERNEL static void prior_row_backward(int Z, const float *restrict gz, const float *restrict e,
                               const float *restrict slp, float *restrict dpm, float *restrict dpr)
{
    for (int j = 0; j < Z; j++) {
        dpm[j] = gz[j];
        dpr[j] = gz[j] * e[j] * slp[j];
    }
}

static void resq_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *P = n->in[0], *Q = n->in[1], *z = n->out, *lr = n->out2;
    const resq_saved *s = n->aux;
    int rows = z->rows, Z = z->cols;
    bool pf = false, qf = false;
    float *dP = fivo__req(P) ? fivo__grad_fresh(ctx, P, &pf) : NULL;
    float *dQ = Q != NULL && fivo__req(Q) ? fivo__grad_fresh(ctx, Q, &qf) : NULL;
    float *tmp = fivo__alloc_floats(ctx, 4 * (size_t)Z);
    float *zeros = z->grad == NULL ? fivo__zeros(ctx, (size_t)Z) : NULL;
    if ((fivo__req(P) && dP == NULL) || (dQ == NULL && Q != NULL && fivo__req(Q)) || tmp == NULL ||
        (z->grad == NULL && zeros == NULL))
        return;
    float *dpm = tmp, *dpr = tmp + Z, *dqm = tmp + 2 * Z, *dqr = tmp + 3 * Z;
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * Z;
        const float *gz = z->grad != NULL ? z->grad + o : zeros;
        if (Q != NULL)
            resq_row_backward(Z, lr != NULL && lr->grad != NULL ? lr->grad[r] : 0.0f, gz,
                              s->eps + o, s->u + o, s->isp + o, s->slp + o, s->isq + o, s->slq + o,
                              dpm, dpr, dqm, dqr);
        else
            prior_row_backward(Z, gz, s->eps + o, s->slp + o, dpm, dpr);
        if (dP != NULL) {
            put(dP + 2 * o, dpm, Z, pf);
            put(dP + 2 * o + Z, dpr, Z, pf);
        }
        if (dQ != NULL) {
            put(dQ + 2 * o, dqm, Z, qf);
            put(dQ + 2 * o + Z, dqr, Z, qf);
        }
    }
}

fivo_tensor *fivo_normal_res_q_sample(fivo_ctx *ctx, const fivo_tensor *P, const fivo_tensor *Q,
                                      float bias, float smin, uint32_t purpose, uint32_t t,
                                      fivo_tensor **log_ratio)
{
    int rows = P->rows, Z = P->cols / 2;
    if (P->cols < 2 || P->cols % 2 != 0 || (Q != NULL && (Q->rows != rows || Q->cols != P->cols))) {
        fivo_tensor *bad = fivo__bad(ctx, rows, Z > 0 ? Z : 1,
                                     "normal_res_q_sample: prior head is %dx%d, proposal head %dx%d "
                                     "(expected rows x 2Z both)",
                                     P->rows, P->cols, Q ? Q->rows : 0, Q ? Q->cols : 0);
        if (log_ratio != NULL)
            *log_ratio = fivo__bad(ctx, rows, 1, "normal_res_q_sample: bad heads");
        return bad;
    }
    fivo_tensor *eps = fivo_randn(ctx, purpose, t, rows, Z);
    fivo_tensor *z = fivo__tensor(ctx, rows, Z);
    fivo_tensor *lr = log_ratio != NULL ? fivo__tensor(ctx, rows, 1) : NULL;
    if (log_ratio != NULL)
        *log_ratio = lr;
    size_t sz = (size_t)rows * Z;
    resq_saved *s = fivo__alloc(ctx, sizeof *s);
    float *buf = fivo__alloc_floats(ctx, (Q != NULL ? 5 : 3) * sz + (size_t)Z);
    if (eps == &ctx->dummy || z == &ctx->dummy || lr == &ctx->dummy || s == NULL || buf == NULL)
        return z;
    s->eps = eps->data;
    s->u = buf;
    s->isp = buf + sz;
    s->slp = buf + 2 * sz;
    s->isq = Q != NULL ? buf + 3 * sz : NULL;
    s->slq = Q != NULL ? buf + 4 * sz : NULL;
    float *term = buf + (Q != NULL ? 5 : 3) * sz;
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * Z;
        if (Q != NULL) {
            resq_row(Z, bias, smin, P->data + 2 * o, Q->data + 2 * o, eps->data + o, z->data + o,
                     s->u + o, s->isp + o, s->slp + o, s->isq + o, s->slq + o, term);
            if (lr != NULL)
                lr->data[r] = (float)fivo__sum_double(term, Z);
        } else {
            prior_row(Z, bias, smin, P->data + 2 * o, eps->data + o, z->data + o, s->u + o,
                      s->isp + o, s->slp + o);
            if (lr != NULL)
                lr->data[r] = 0.0f;
        }
    }
    if (fivo__wants(ctx, P) || fivo__wants(ctx, Q)) {
        fivo_node *n = fivo__record(ctx, resq_backward, z);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)P;
            n->in[1] = (fivo_tensor *)Q;
            n->aux = s;
            if (lr != NULL && Q != NULL) {
                n->out2 = lr;
                lr->node = z->node;
                lr->flags |= FIVO_TENSOR_REQUIRES_GRAD;
            }
        }
    }
    return z;
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
