/* One evaluation pass of the session's bound over a dataset split, as the
 * reference's ghmm eval reports it: the bound per timestep (mean and std
 * over sequences), the exact likelihood when the model has one, the average
 * log-weight variance and the average resampling rate. */
#include <math.h>
#include <stdlib.h>

#include "session.h"

/* Eval streams use global steps far from any training step. */
#define EVAL_STEP_BASE (UINT64_C(1) << 62)

fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err)
{
    const bool exact = fivo_session_has_exact(s);
    double sum = 0.0, sumsq = 0.0, ll_sum = 0.0, gap_sum = 0.0;
    double var_weighted = 0.0, rate_weighted = 0.0;
    int64_t nseq = 0, steps = 0;
    double *ll = NULL;
    int ll_cap = 0;
    fivo_status st = FIVO_OK;
    bool grad = fivo_ctx_grad_enabled(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, false);
    for (uint64_t index = 0;; index++) {
        fivo_batch batch;
        st = ds->vt->batch(ds->self, s->batch_size, false, s->seed, index, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(s->ctx);
        fivo_ctx_set_seed(s->ctx, s->seed, EVAL_STEP_BASE + index);
        fivo_smc_result res;
        if ((st = fivo_session_bound(s, &batch, &res, err)) != FIVO_OK) {
            fivo_error_prefix(err, "eval batch %llu: ", (unsigned long long)index);
            break;
        }
        if (exact) {
            if (batch.batch_size > ll_cap) {
                free(ll);
                ll_cap = batch.batch_size;
                ll = malloc(sizeof(double) * (size_t)ll_cap);
                if (ll == NULL) {
                    st = fivo_error_set(err, FIVO_ERR_NOMEM, "eval: out of memory");
                    break;
                }
            }
            st = s->model.vt->log_likelihood(s->model.self, &batch, ll, err);
            if (st != FIVO_OK)
                break;
        }
        int64_t batch_steps = 0;
        for (int b = 0; b < batch.batch_size; b++) {
            int len = batch.lengths[b];
            if (len <= 0)
                continue;
            double per_t = res.log_phat->data[b] / len;
            sum += per_t;
            sumsq += per_t * per_t;
            if (exact) {
                ll_sum += ll[b] / len;
                gap_sum += (ll[b] - res.log_phat->data[b]) / len;
            }
            nseq++;
            batch_steps += len;
        }
        var_weighted += res.log_weight_var * (double)batch_steps;
        rate_weighted += res.resample_rate * (double)batch_steps;
        steps += batch_steps;
    }
    free(ll);
    fivo_ctx_set_grad_enabled(s->ctx, grad);
    if (st != FIVO_OK)
        return st;
    if (nseq == 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "eval: split '%s' has no sequences",
                              s->split);
    double mean = sum / nseq;
    fivo_session_describe(s, r);
    const char *proposal = NULL;
    if (fivo_config_get_string(s->host->cfg, "model", "proposal_type", NULL, &proposal, NULL) ==
        FIVO_OK)
        fivo_report_set_string(r, "proposal_type", proposal);
    fivo_report_set_int(r, "num_samples", s->num_samples);
    fivo_report_set_int(r, "num_sequences", nseq);
    fivo_report_set_number(r, "bound_mean", mean);
    fivo_report_set_number(r, "bound_std", sqrt(fmax(sumsq / nseq - mean * mean, 0.0)));
    if (exact) {
        fivo_report_set_number(r, "true_ll_per_t", ll_sum / nseq);
        fivo_report_set_number(r, "gap_per_t", gap_sum / nseq);
    }
    fivo_report_set_number(r, "log_weight_var", steps > 0 ? var_weighted / steps : 0.0);
    fivo_report_set_number(r, "resample_rate", steps > 0 ? rate_weighted / steps : 0.0);
    return FIVO_OK;
}

fivo_status fivo_session_eval_sums(fivo_session *s, fivo_dataset *ds,
                                   const fivo_smc_options *opts, fivo_eval_sums *out,
                                   fivo_error *err)
{
    out->ll = 0.0;
    out->timesteps = 0;
    out->sequences = 0;
    fivo_status st = FIVO_OK;
    bool grad = fivo_ctx_grad_enabled(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, false);
    for (uint64_t index = 0;; index++) {
        fivo_batch batch;
        st = ds->vt->batch(ds->self, s->batch_size, false, s->seed, index, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(s->ctx);
        fivo_ctx_set_seed(s->ctx, s->seed, EVAL_STEP_BASE + index);
        fivo_smc_result res;
        if ((st = fivo_smc_run(s->ctx, &s->model, &batch, opts, &res, err)) != FIVO_OK) {
            fivo_error_prefix(err, "eval batch %llu: ", (unsigned long long)index);
            break;
        }
        for (int b = 0; b < batch.batch_size; b++) {
            out->ll += (double)res.log_phat->data[b]; /* summed in double */
            out->timesteps += batch.lengths[b];
        }
        out->sequences += batch.batch_size;
    }
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, grad);
    return st;
}
