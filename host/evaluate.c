/* Evaluation passes: a bound plugin over a dataset split in file order,
 * without gradients, each batch in a fresh ctx with its own eval stream.
 * One pass gathers both what the reference's eval lines print (sums of log
 * p-hat over sequences and timesteps) and the bound's diagnostics (bound
 * per timestep, exact likelihood and gap when the model has one, log-weight
 * variance, resampling rate), so any bound reports the same things.
 *
 * With several MPI ranks, rank r runs the batches r, r + K, r + 2K, ... and
 * the per-batch part replays over every batch in index order on every rank
 * (eval_records.h): the same sums, to the last bit, as one process. */
#include <math.h>
#include <stdlib.h>

#include <fivo/internal/comm.h>
#include <fivo/progress.h>

#include "eval_records.h"
#include "session.h"

/* The exact log-likelihoods of a batch's sequences into *ll (grown). */
static fivo_status exact_ll(fivo_session *s, const fivo_batch *batch, double **ll, int *ll_cap,
                            fivo_error *err)
{
    if (batch->batch_size > *ll_cap) {
        free(*ll);
        *ll_cap = batch->batch_size;
        *ll = malloc(sizeof(double) * (size_t)*ll_cap);
        if (*ll == NULL) {
            *ll_cap = 0;
            return fivo_error_set(err, FIVO_ERR_NOMEM, "eval: out of memory");
        }
    }
    return fivo_model_log_likelihood(&s->model, batch, *ll, err);
}

/* The per-batch part of a pass (ll: each sequence's exact log-likelihood
 * when the model has one). */
static fivo_status add_batch(void *user, fivo_session *s, const fivo_batch *batch,
                             const fivo_smc_result *res, const double *ll, fivo_error *err)
{
    (void)s;
    (void)err;
    fivo_eval_stats *a = user;
    int64_t batch_steps = 0;
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        a->ll += (double)res->log_phat->data[b]; /* summed in double */
        a->timesteps += len;
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
    a->sequences += batch->batch_size;
    a->var_weighted += res->log_weight_var * (double)batch_steps;
    a->rate_weighted += res->resample_rate * (double)batch_steps;
    a->steps += batch_steps;
    return FIVO_OK;
}

fivo_status fivo_session_eval_bound(fivo_session *s, fivo_dataset *ds, const fivo_bound *bound,
                                    fivo_eval_stats *out, fivo_error *err)
{
    *out = (fivo_eval_stats){.exact = fivo_session_has_exact(s)};
    double *ll = NULL;
    int ll_cap = 0;
    fivo_status st = FIVO_OK;
    bool grad = fivo_ctx_grad_enabled(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, false);
    /* MPI hook: this rank's batches, kept as records when there are several;
     * the progress line is rank 0's (its own batches, about 1/size of the split). */
    const int rank = fivo_comm_rank(), size = fivo_comm_size();
    fivo_eval_records recs = {0};
    fivo_dataset_info in = {0};
    fivo_progress *prog = rank == 0 && fivo_dataset_get_info(ds, &in, NULL) == FIVO_OK
                              ? fivo_progress_start("eval", "seq", 0, in.num_sequences / size)
                              : NULL;
    int64_t done = 0;
    for (uint64_t index = (uint64_t)rank;; index += (uint64_t)size) {
        fivo_batch batch;
        st = fivo_dataset_read_batch(ds, s->batch_size, false, s->seed, index, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(s->ctx);
        fivo_ctx_set_seed(s->ctx, s->seed, FIVO_RNG_DOMAIN_EVAL + index);
        fivo_smc_result res;
        st = fivo_bound_compute(bound, s->ctx, &s->model, &s->resampler, &batch, s->num_samples,
                                &res, err);
        if (st != FIVO_OK) {
            fivo_error_prefix(err, "eval batch %llu: ", (unsigned long long)index);
            break;
        }
        if (out->exact && (st = exact_ll(s, &batch, &ll, &ll_cap, err)) != FIVO_OK)
            break;
        if (size > 1)
            fivo_eval_records_add(&recs, index, &batch, &res, out->exact ? ll : NULL);
        else if ((st = add_batch(out, s, &batch, &res, ll, err)) != FIVO_OK)
            break;
        fivo_progress_update(prog, done += batch.batch_size, NULL);
    }
    fivo_progress_finish(prog);
    free(ll);
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, grad);
    if (size > 1) /* collective: every rank's batches, in index order */
        st = fivo_eval_records_replay(&recs, st, add_batch, out, s, err);
    return st;
}

double fivo_eval_stats_resample_rate(const fivo_eval_stats *a)
{
    return a->steps > 0 ? a->rate_weighted / (double)a->steps : 0.0;
}

double fivo_eval_stats_log_weight_var(const fivo_eval_stats *a)
{
    return a->steps > 0 ? a->var_weighted / (double)a->steps : 0.0;
}

fivo_status fivo_session_report_stats(fivo_session *s, const fivo_eval_stats *a, fivo_report *r,
                                      fivo_error *err)
{
    if (a->nseq == 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "eval: split '%s' has no sequences",
                              s->split);
    double mean = a->sum / (double)a->nseq;
    fivo_session_describe(s, r);
    const char *proposal = NULL;
    if (fivo_config_get_string(s->host->cfg, "model", "proposal_type", NULL, &proposal, NULL) ==
        FIVO_OK)
        fivo_report_set_string(r, "proposal_type", proposal);
    fivo_report_set_int(r, "num_samples", s->num_samples);
    fivo_report_set_int(r, "num_sequences", a->nseq);
    fivo_report_set_number(r, "bound_mean", mean);
    fivo_report_set_number(r, "bound_std",
                           sqrt(fmax(a->sumsq / (double)a->nseq - mean * mean, 0.0)));
    if (a->exact) {
        fivo_report_set_number(r, "true_ll_per_t", a->ll_sum / (double)a->nseq);
        fivo_report_set_number(r, "gap_per_t", a->gap_sum / (double)a->nseq);
    }
    fivo_report_set_number(r, "log_weight_var", fivo_eval_stats_log_weight_var(a));
    fivo_report_set_number(r, "resample_rate", fivo_eval_stats_resample_rate(a));
    return FIVO_OK;
}

fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err)
{
    fivo_eval_stats a;
    fivo_status st = fivo_session_eval_bound(s, ds, &s->bound, &a, err);
    return st != FIVO_OK ? st : fivo_session_report_stats(s, &a, r, err);
}
