/* One evaluation pass of the session's bound over a dataset split, as the
 * reference's ghmm eval reports it: the bound per timestep (mean and std
 * over sequences), the exact likelihood when the model has one, the average
 * log-weight variance and the average resampling rate. */
#include <math.h>
#include <stdlib.h>

#include <fivo/comm.h>

#include "eval_records.h"
#include "session.h"

typedef fivo_eval_visit_fn eval_visit_fn;

/* One pass over the split in file order, gradients off: each batch in a
 * fresh ctx with its own eval stream, the session's bound (opts == NULL) or
 * the SMC engine with `opts`, the exact log-likelihoods when the model has
 * them, then `visit`. With several MPI ranks each rank runs every size-th
 * batch and the visits replay in batch order on every rank
 * (eval_records.h): the same sums, to the bit, as one process. */
static fivo_status eval_pass(fivo_session *s, fivo_dataset *ds, const fivo_smc_options *opts,
                             eval_visit_fn visit, void *user, fivo_error *err)
{
    fivo_status st = FIVO_OK;
    bool grad = fivo_ctx_grad_enabled(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, false);
    const int rank = fivo_comm_rank(), size = fivo_comm_size();
    fivo_eval_records recs = {0};
    const bool exact = fivo_session_has_exact(s);
    double *ll = NULL;
    int ll_cap = 0;
    for (uint64_t index = (uint64_t)rank;; index += (uint64_t)size) {
        fivo_batch batch;
        st = ds->vt->batch(ds->self, s->batch_size, false, s->seed, index, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(s->ctx);
        fivo_ctx_set_seed(s->ctx, s->seed, FIVO_RNG_DOMAIN_EVAL + index);
        fivo_smc_result res;
        st = opts == NULL ? fivo_session_bound(s, &batch, &res, err)
                          : fivo_smc_run(s->ctx, &s->model, &batch, opts, &res, err);
        if (st != FIVO_OK) {
            fivo_error_prefix(err, "eval batch %llu: ", (unsigned long long)index);
            break;
        }
        if (exact) {
            if (batch.batch_size > ll_cap) {
                free(ll);
                ll_cap = batch.batch_size;
                ll = malloc(sizeof(double) * (size_t)ll_cap);
                if (ll == NULL) {
                    ll_cap = 0;
                    st = fivo_error_set(err, FIVO_ERR_NOMEM, "eval: out of memory");
                    break;
                }
            }
            if ((st = s->model.vt->log_likelihood(s->model.self, &batch, ll, err)) != FIVO_OK)
                break;
        }
        if (size > 1)
            fivo_eval_records_add(&recs, index, &batch, &res, exact ? ll : NULL);
        else if ((st = visit(user, s, &batch, &res, exact ? ll : NULL, err)) != FIVO_OK)
            break;
    }
    free(ll);
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, grad);
    if (size > 1)
        st = fivo_eval_records_replay(&recs, st, visit, user, s, err);
    return st;
}

typedef struct bound_stats {
    bool exact;
    double sum, sumsq, ll_sum, gap_sum, var_weighted, rate_weighted;
    int64_t nseq, steps;
} bound_stats;

static fivo_status add_bound_stats(void *user, fivo_session *s, const fivo_batch *batch,
                                   const fivo_smc_result *res, const double *ll,
                                   fivo_error *err)
{
    (void)s;
    (void)err;
    bound_stats *a = user;
    int64_t batch_steps = 0;
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        if (len <= 0)
            continue;
        double per_t = res->log_phat->data[b] / len;
        a->sum += per_t;
        a->sumsq += per_t * per_t;
        if (a->exact) {
            a->ll_sum += ll[b] / len;
            a->gap_sum += (ll[b] - res->log_phat->data[b]) / len;
        }
        a->nseq++;
        batch_steps += len;
    }
    a->var_weighted += res->log_weight_var * (double)batch_steps;
    a->rate_weighted += res->resample_rate * (double)batch_steps;
    a->steps += batch_steps;
    return FIVO_OK;
}

fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err)
{
    bound_stats a = {0};
    a.exact = fivo_session_has_exact(s);
    fivo_status st = eval_pass(s, ds, NULL, add_bound_stats, &a, err);
    if (st != FIVO_OK)
        return st;
    if (a.nseq == 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "eval: split '%s' has no sequences",
                              s->split);
    double mean = a.sum / a.nseq;
    fivo_session_describe(s, r);
    const char *proposal = NULL;
    if (fivo_config_get_string(s->host->cfg, "model", "proposal_type", NULL, &proposal, NULL) ==
        FIVO_OK)
        fivo_report_set_string(r, "proposal_type", proposal);
    fivo_report_set_int(r, "num_samples", s->num_samples);
    fivo_report_set_int(r, "num_sequences", a.nseq);
    fivo_report_set_number(r, "bound_mean", mean);
    fivo_report_set_number(r, "bound_std", sqrt(fmax(a.sumsq / a.nseq - mean * mean, 0.0)));
    if (a.exact) {
        fivo_report_set_number(r, "true_ll_per_t", a.ll_sum / a.nseq);
        fivo_report_set_number(r, "gap_per_t", a.gap_sum / a.nseq);
    }
    fivo_report_set_number(r, "log_weight_var", a.steps > 0 ? a.var_weighted / a.steps : 0.0);
    fivo_report_set_number(r, "resample_rate", a.steps > 0 ? a.rate_weighted / a.steps : 0.0);
    return FIVO_OK;
}

static fivo_status add_sums(void *user, fivo_session *s, const fivo_batch *batch,
                            const fivo_smc_result *res, const double *ll, fivo_error *err)
{
    (void)s;
    (void)ll;
    (void)err;
    fivo_eval_sums *out = user;
    for (int b = 0; b < batch->batch_size; b++) {
        out->ll += (double)res->log_phat->data[b]; /* summed in double */
        out->timesteps += batch->lengths[b];
    }
    out->sequences += batch->batch_size;
    return FIVO_OK;
}

fivo_status fivo_session_eval_sums(fivo_session *s, fivo_dataset *ds,
                                   const fivo_smc_options *opts, fivo_eval_sums *out,
                                   fivo_error *err)
{
    out->ll = 0.0;
    out->timesteps = 0;
    out->sequences = 0;
    return eval_pass(s, ds, opts, add_sums, out, err);
}
