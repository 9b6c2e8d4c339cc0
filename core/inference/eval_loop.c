/* Evaluation passes (see fivo/eval_loop.h). */
#include <stdlib.h>

#include <fivo/internal/comm.h>
#include <fivo/eval_loop.h>
#include <fivo/progress.h>

#include "eval_records.h"

/* The exact log-likelihoods of a batch's sequences into *ll (grown). */
static fivo_status exact_ll(const fivo_eval_setup *e, const fivo_batch *batch, double **ll,
                            int *ll_cap, fivo_error *err)
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
    return fivo_model_log_likelihood(e->model, batch, *ll, err);
}

/* The per-batch part of a pass (ll: each sequence's exact log-likelihood
 * when the model has one). */
static fivo_status add_batch(void *user, const fivo_batch *batch, const fivo_smc_result *res,
                             const double *ll, fivo_error *err)
{
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

fivo_status fivo_eval_pass(const fivo_eval_setup *e, fivo_dataset *ds, const fivo_bound *bound,
                           fivo_eval_stats *out, fivo_error *err)
{
    *out = (fivo_eval_stats){.exact = FIVO_MODEL_HAS(e->model, log_likelihood)};
    double *ll = NULL;
    int ll_cap = 0;
    fivo_status st = FIVO_OK;
    bool grad = fivo_ctx_grad_enabled(e->ctx);
    fivo_ctx_set_grad_enabled(e->ctx, false);
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
        st = fivo_dataset_read_batch(ds, e->batch_size, false, e->seed, index, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(e->ctx);
        fivo_ctx_set_seed(e->ctx, e->seed, FIVO_RNG_DOMAIN_EVAL + index);
        fivo_smc_result res;
        st = fivo_bound_compute(bound, e->ctx, e->model, e->resampler, &batch, e->num_samples,
                                &res, err);
        if (st != FIVO_OK) {
            fivo_error_prefix(err, "eval batch %llu: ", (unsigned long long)index);
            break;
        }
        if (out->exact && (st = exact_ll(e, &batch, &ll, &ll_cap, err)) != FIVO_OK)
            break;
        if (size > 1)
            fivo_eval_records_add(&recs, index, &batch, &res, out->exact ? ll : NULL);
        else if ((st = add_batch(out, &batch, &res, ll, err)) != FIVO_OK)
            break;
        fivo_progress_update(prog, done += batch.batch_size, NULL);
    }
    fivo_progress_finish(prog);
    free(ll);
    fivo_ctx_reset(e->ctx);
    fivo_ctx_set_grad_enabled(e->ctx, grad);
    if (size > 1) /* collective: every rank's batches, in index order */
        st = fivo_eval_records_replay(&recs, st, add_batch, out, e->num_samples, out->exact, err);
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

double fivo_eval_stats_ll_per_t(const fivo_eval_stats *a)
{
    return a->timesteps > 0 ? a->ll / (double)a->timesteps : 0.0;
}

double fivo_eval_stats_ll_per_seq(const fivo_eval_stats *a)
{
    return a->sequences > 0 ? a->ll / (double)a->sequences : 0.0;
}
