/* Check "log_likelihood" (when the model has the slot): the exact log p(x)
 * is finite per sequence, stops at each sequence's length (the value alone
 * equals the value in the batch), and agrees with IWAE: E[log p-hat] is
 * below log p(x) (Jensen) and with many particles within ll_tol (plus three
 * standard errors of the mean over the seeds) of it. */
#include "kit.h"

#include <math.h>
#include <stdlib.h>

/* Effective sample size of sequence b's final weights (rows p * B + b). */
static double ess_of(const fivo_smc_result *res, int b, int B, int K)
{
    const float *w = res->final_log_weights->data;
    double mx = -INFINITY, s = 0.0, s2 = 0.0;
    for (int p = 0; p < K; p++)
        mx = fmax(mx, w[(size_t)p * B + b]);
    for (int p = 0; p < K; p++) {
        double e = exp(w[(size_t)p * B + b] - mx);
        s += e;
        s2 += e * e;
    }
    return s2 > 0 ? s * s / s2 : 0.0;
}

kit_verdict kit_check_log_likelihood(kit *k)
{
    kit_model m;
    if (!kit_model_open_default(k, &m))
        return kit_say(k, KIT_FAIL, "cannot create the model");
    if (!FIVO_MODEL_HAS(&m.model, log_likelihood)) {
        kit_model_close(&m);
        return kit_say(k, KIT_SKIP, "the model has no log_likelihood slot");
    }
    const int B = k->B, K = k->o->ll_particles, reps = k->o->ll_reps;
    const double tol = k->o->ll_tol;
    double *exact = calloc((size_t)B, sizeof(double)), *iwae = calloc((size_t)B, sizeof(double));
    double *elbo = calloc((size_t)B, sizeof(double));
    double *sq = calloc((size_t)B, sizeof(double)); /* sum of squares of the reps' log p-hat */
    fivo_ctx *ctx = fivo_ctx_new(1 << 22, 0);
    fivo_error err = {0};
    int bad = 0;
    double worst_gap = -INFINITY, least_gap = INFINITY, min_ess = INFINITY;
    /* Below this many effective particles the IWAE estimate is dominated by
     * a few weights (heavy tails: it can even exceed log p(x)), so a gap says
     * nothing about log_likelihood. */
    const double need_ess = 10.0;
    if (!exact || !iwae || !elbo || !sq || !ctx) {
        bad++;
        goto done;
    }
    if (fivo_model_log_likelihood(&m.model, &k->batch, exact, &err) != FIVO_OK) {
        kit_note(k, "log_likelihood failed: %s", err.message);
        bad++;
        goto done;
    }
    for (int b = 0; b < B; b++) {
        if (!isfinite(exact[b])) {
            kit_note(k, "sequence %d: log p(x) = %g", b, exact[b]);
            bad++;
            continue;
        }
        float *buf = NULL;
        fivo_batch one = kit_single_sequence(k, b, &buf);
        double alone = NAN;
        if (buf == NULL || fivo_model_log_likelihood(&m.model, &one, &alone, &err) != FIVO_OK ||
            !(fabs(alone - exact[b]) <= 1e-6 * fmax(1.0, fabs(exact[b])))) {
            kit_note(k, "sequence %d (length %d): log p(x) %.9g in the batch, %.9g alone", b,
                     k->lengths[b], exact[b], alone);
            bad++;
        }
        free(buf);
    }
    if (bad > 0)
        goto done;
    for (int r = 0; r < reps; r++) {
        fivo_smc_result res;
        if (kit_iwae(ctx, &m.model, &k->batch, K, k->o->seed, (uint64_t)r, false, &res, &err) !=
            FIVO_OK) {
            kit_note(k, "IWAE with %d particles failed: %s", K, err.message);
            bad++;
            goto done;
        }
        for (int b = 0; b < B; b++) {
            iwae[b] += res.log_phat->data[b] / reps;
            sq[b] += (double)res.log_phat->data[b] * res.log_phat->data[b];
            min_ess = fmin(min_ess, ess_of(&res, b, B, K));
        }
        if (kit_iwae(ctx, &m.model, &k->batch, 1, k->o->seed, (uint64_t)r, false, &res, &err) !=
            FIVO_OK) {
            bad++;
            goto done;
        }
        for (int b = 0; b < B; b++)
            elbo[b] += res.log_phat->data[b] / reps;
    }
    for (int b = 0; b < B; b++) {
        const double gap = exact[b] - iwae[b];
        /* The tolerance widens by 3 standard errors of the mean over the
         * reps (the estimate's own noise), so only a real offset fails. */
        const double var = reps > 1 ? fmax(0.0, (sq[b] - reps * iwae[b] * iwae[b]) / (reps - 1)) : 0.0;
        const double allowed = tol + 3.0 * sqrt(var / reps);
        kit_note(k, "sequence %d: log p(x) %.5f, IWAE(%d) %.5f (gap %.4f, allowed %.4f), ELBO %.5f "
                    "(gap %.4f)",
                 b, exact[b], K, iwae[b], gap, allowed, elbo[b], exact[b] - elbo[b]);
        if (min_ess >= need_ess && fabs(gap) > allowed)
            bad++;
        worst_gap = fmax(worst_gap, gap);
        least_gap = fmin(least_gap, gap);
    }
    if (bad == 0 && min_ess < need_ess) {
        kit_note(k, "effective sample size %.1f of %d particles, below %g", min_ess, K, need_ess);
        bad = -1;
    }
done:
    free(exact);
    free(iwae);
    free(elbo);
    free(sq);
    fivo_ctx_free(ctx);
    kit_model_close(&m);
    if (bad < 0)
        return kit_say(k, KIT_SKIP,
                       "log p(x) finite and per-length, but IWAE(%d) is inconclusive: effective "
                       "sample size %.1f < %g (a proposal far from the posterior for this data; "
                       "try --set of a better proposal_type or --ll-particles)",
                       K, min_ess, need_ess);
    if (bad > 0)
        return kit_say(k, KIT_FAIL,
                       "%d problem(s): IWAE(%d) over %d seeds (effective sample size >= %.1f) must "
                       "lie within %g nats + 3 standard errors of log p(x) (largest gap %.4f)",
                       bad, K, reps, min_ess, tol, worst_gap);
    return kit_say(k, KIT_PASS,
                   "finite, per-length; log p(x) - IWAE(%d) over %d seeds from %.4f to %.4f nats "
                   "(tolerance %g, effective sample size >= %.1f)",
                   K, reps, least_gap, worst_gap, tol, min_ess);
}
