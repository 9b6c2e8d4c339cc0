/* Resampling gradients by REINFORCE (see fivo/resampling_grads.h).
 *
 * The wrapper offers only the resample_weighted slot, so the engine hands
 * it each resampling filter's log weights on the tape; it draws through
 * the inner resampler's plain slot (same uniforms, same ancestors) and
 * restarts the weights at 0, as the plain path does: the forward values
 * are the inner resampler's bits. Each draw's log q(a) is recorded in call
 * order, which is the engine's order (t ascending, then filter b). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/resampling_grads.h>
#include <fivo/weights.h>

struct fivo_resampling_grads {
    fivo_resampler wrap;
    const fivo_resampler *inner;
    fivo_tensor **logq; /* [cap]: 1 x 1, the current compute's draws (its arena) */
    int count, cap;
    bool overflow; /* out of memory while recording */
};

static fivo_status draw(void *self, fivo_ctx *ctx, const fivo_tensor *log_w, const double *lw,
                        const fivo_rng *rng, uint32_t row, int32_t *ancestors,
                        fivo_tensor **log_w_new, fivo_error *err)
{
    fivo_resampling_grads *g = self;
    const int n = log_w->rows;
    fivo_status st = fivo_resampler_resample(g->inner, lw, n, rng, row, ancestors, err);
    if (st != FIVO_OK)
        return st;
    /* log q(a) = sum_i log_w[a_i] - n logsumexp(log_w): the categorical
     * log-probability of the draws, differentiable in the weights. */
    fivo_tensor *picked = fivo_sum_all(ctx, fivo_gather_rows(ctx, log_w, ancestors, n));
    fivo_tensor *lse = fivo_logsumexp_groups(ctx, log_w, n);
    fivo_tensor *logq = fivo_sub(ctx, picked, fivo_scale(ctx, lse, (float)n));
    if (g->count == g->cap) {
        int cap = g->cap > 0 ? 2 * g->cap : 64;
        fivo_tensor **p = realloc(g->logq, sizeof *p * (size_t)cap);
        if (p == NULL) {
            g->overflow = true;
            return fivo_error_set(err, FIVO_ERR_NOMEM, "resampling grads: out of memory");
        }
        g->logq = p;
        g->cap = cap;
    }
    g->logq[g->count++] = logq;
    *log_w_new = fivo_tensor_zeros(ctx, n, 1);
    return fivo_ctx_status(ctx, err);
}

static const fivo_resampler_vtable WRAP_VT = {.resample_weighted = draw};

fivo_status fivo_resampling_grads_check(const fivo_resampler *inner, fivo_error *err)
{
    if (inner == NULL || inner->vt == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "resampling grads need a resampler ([resampler] plugin)");
    const char *name = inner->name != NULL ? inner->name : "?";
    const char *why = FIVO_RESAMPLER_HAS(inner, resample_transport) ? "blends particles (transport)"
                      : FIVO_RESAMPLER_HAS(inner, resample_relaxed) ? "blends particles (relaxed)"
                      : FIVO_RESAMPLER_HAS(inner, resample_weighted)
                          ? "reweights after the draw (it carries the resampling gradient itself)"
                      : !FIVO_RESAMPLER_HAS(inner, resample) ? "has no hard ancestor draw"
                                                             : NULL;
    if (why != NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "resampling grads: resampler '%s' %s, so its draws have no "
                              "categorical score; use multinomial (exact) or systematic, "
                              "stratified, residual (the reference's approximation)",
                              name, why);
    return FIVO_OK;
}

fivo_resampling_grads *fivo_resampling_grads_new(const fivo_resampler *inner, fivo_error *err)
{
    if (fivo_resampling_grads_check(inner, err) != FIVO_OK)
        return NULL;
    fivo_resampling_grads *g = calloc(1, sizeof *g);
    if (g == NULL) {
        fivo_error_set(err, FIVO_ERR_NOMEM, "resampling grads: out of memory");
        return NULL;
    }
    g->inner = inner;
    g->wrap.vt = &WRAP_VT;
    g->wrap.vt_size = sizeof WRAP_VT;
    g->wrap.self = g;
    g->wrap.name = inner->name;
    g->wrap.extension_data = inner->extension_data;
    return g;
}

void fivo_resampling_grads_free(fivo_resampling_grads *g)
{
    if (g == NULL)
        return;
    free(g->logq);
    free(g);
}

const fivo_resampler *fivo_resampling_grads_resampler(fivo_resampling_grads *g)
{
    g->count = 0;
    g->overflow = false;
    return &g->wrap;
}

fivo_status fivo_resampling_grads_finish(fivo_resampling_grads *g, fivo_ctx *ctx,
                                         const fivo_batch *batch, const fivo_smc_result *res,
                                         const float *baseline, int baseline_len,
                                         fivo_tensor **score, double *rewards, int ld,
                                         fivo_error *err)
{
    const int T = res->max_len, B = res->batch_size, N = res->num_particles;
    *score = NULL;
    if (B != batch->batch_size || T > batch->max_len || (rewards != NULL && ld < T))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "resampling grads: result of %d sequences x %d steps for a batch "
                              "of %d x %d (reward rows of %d)",
                              B, T, batch->batch_size, batch->max_len, ld);
    int draws = 0;
    for (int i = 0; i < T * B; i++)
        draws += res->resampled[i] != 0;
    if (g->overflow || draws != g->count)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "resampling grads: the bound made %d draws through the wrapper "
                              "for %d resampling steps (a segmented tape, or a bound that does "
                              "not resample with the resampler it is given)",
                              g->count, draws);
    if (rewards != NULL)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < ld; t++)
                rewards[(size_t)b * (size_t)ld + (size_t)t] = NAN;
    fivo_tensor *coef = fivo_tensor_zeros(ctx, B, draws > 0 ? draws : 1);
    double *lw = malloc(sizeof(double) * (size_t)N);
    double *inc = malloc(sizeof(double) * (size_t)(T > 0 ? T : 1));
    if (coef == NULL || lw == NULL || inc == NULL) {
        free(lw);
        free(inc);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "resampling grads: out of memory");
    }
    const double log_n = log((double)N);
    /* kidx: each draw's index in call order (t major, then b). */
    int *kidx = fivo_ctx_alloc(ctx, sizeof(int) * (size_t)T * (size_t)B + 1);
    if (kidx == NULL) {
        free(lw);
        free(inc);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "resampling grads: arena exhausted");
    }
    for (int i = 0, k = 0; i < T * B; i++)
        kidx[i] = res->resampled[i] ? k++ : -1;
    for (int b = 0; b < B; b++) {
        const int L = batch->lengths[b] < T ? batch->lengths[b] : T;
        /* The log p-hat increments: at draws and at the last step. */
        double total = 0.0;
        for (int t = 0; t < L; t++) {
            inc[t] = 0.0;
            if (!res->resampled[(size_t)t * (size_t)B + (size_t)b] && t != L - 1)
                continue;
            for (int p = 0; p < N; p++)
                lw[p] = res->log_weights[(size_t)t * (size_t)N * (size_t)B + (size_t)p * (size_t)B + (size_t)b];
            inc[t] = fivo_logsumexp_d(lw, N) - log_n;
            total += inc[t];
        }
        double done = 0.0;
        for (int t = 0; t < L; t++) {
            done += inc[t];
            if (!res->resampled[(size_t)t * (size_t)B + (size_t)b] || t == L - 1)
                continue;
            const int k = kidx[(size_t)t * (size_t)B + (size_t)b];
            const double reward = total - done;
            const double base = baseline != NULL && t < baseline_len ? (double)baseline[t] : 0.0;
            coef->data[(size_t)b * (size_t)coef->cols + (size_t)k] = (float)(reward - base);
            if (rewards != NULL)
                rewards[(size_t)b * (size_t)ld + (size_t)t] = reward;
        }
    }
    free(lw);
    free(inc);
    if (draws == 0) {
        *score = fivo_tensor_zeros(ctx, B, 1);
        return fivo_ctx_status(ctx, err);
    }
    /* B x K coefficients (constants: stop_gradient) times the K log q. */
    fivo_tensor *q = draws == 1 ? g->logq[0]
                                : fivo_concat_cols(ctx, draws, (const fivo_tensor *const *)g->logq);
    *score = fivo_matmul(ctx, coef, false, q, true);
    return fivo_ctx_status(ctx, err);
}

void fivo_resampling_grads_update_baseline(float *baseline, int len, const double *rewards,
                                           int B, int ld, double decay)
{
    for (int t = 0; t < len; t++) {
        double sum = 0.0;
        int n = 0;
        for (int b = 0; b < B; b++) {
            double r = rewards[(size_t)b * (size_t)ld + (size_t)t];
            if (!isnan(r)) {
                sum += r;
                n++;
            }
        }
        if (n > 0)
            baseline[t] = (float)(decay * (double)baseline[t] + (1.0 - decay) * (sum / n));
    }
}
