/* Evaluation passes: a bound plugin over a dataset split in file order,
 * without gradients, each batch in a fresh ctx with its own eval stream.
 * Host-facing: the host opens the plugins, runs a pass per bound and
 * reports. One pass gathers both what the reference's eval lines print
 * (sums of log p-hat over sequences and timesteps) and the bound's
 * diagnostics (bound per timestep, exact likelihood and gap when the model
 * has one, log-weight variance, resampling rate), so any bound reports the
 * same things.
 *
 * With several MPI ranks, rank r runs the batches r, r + K, r + 2K, ... and
 * the per-batch part replays over every batch in index order on every rank
 * (eval_records.c): the same sums, to the last bit, as one process. */
#ifndef FIVO_EVAL_LOOP_H
#define FIVO_EVAL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/fivo.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What one evaluation pass of a bound over a split gathers. */
typedef struct fivo_eval_stats {
    double ll;          /* sum over sequences of log p-hat */
    int64_t timesteps;  /* sum of lengths */
    int64_t sequences;
    bool exact;         /* the model has an exact likelihood */
    double sum, sumsq;  /* of log p-hat / length over sequences with length > 0 */
    double ll_sum, gap_sum; /* exact: of log p(x) / length and of the gap */
    double var_weighted, rate_weighted; /* log-weight variance and resampling rate x steps */
    int64_t nseq, steps;
} fivo_eval_stats;

/* The objects a pass runs on (the bound is the pass's own argument). */
typedef struct fivo_eval_setup {
    fivo_model *model;
    fivo_resampler *resampler;
    fivo_ctx *ctx;              /* reset per batch; left reset, grad mode restored */
    uint64_t seed;              /* [fivo] random_seed */
    int batch_size, num_samples;
} fivo_eval_setup;

/* One pass of `bound` over `ds` (batches in order, no gradients, the eval
 * RNG domain keyed by batch number). Collective under MPI. */
fivo_status fivo_eval_pass(const fivo_eval_setup *e, fivo_dataset *ds, const fivo_bound *bound,
                           fivo_eval_stats *out, fivo_error *err);

double fivo_eval_stats_resample_rate(const fivo_eval_stats *a);
double fivo_eval_stats_log_weight_var(const fivo_eval_stats *a);
/* The reference's eval lines: sum of log p-hat over timesteps, over sequences. */
double fivo_eval_stats_ll_per_t(const fivo_eval_stats *a);
double fivo_eval_stats_ll_per_seq(const fivo_eval_stats *a);

#ifdef __cplusplus
}
#endif
#endif
