/* Eval passes spread over MPI ranks with the bits of one process.
 *
 * Rank r of K evaluates the batches r, r + K, r + 2K, ... of an in-order
 * pass (fivo_comm_owns) and keeps, per batch, exactly what the per-batch
 * visit reads: the lengths, each sequence's log p-hat (float), its exact
 * log-likelihood (exact models), the batch's log-weight variance and
 * resampling rate. After the pass the records of every rank are gathered
 * (fivo_comm_gather_doubles) and the visit runs on every rank over the
 * batches in index order, so every sum is accumulated in the same order,
 * with the same operands, as in one process.
 *
 * The hook in an eval pass (fivo_eval_pass in eval_loop.c):
 *     for (index = rank;; index += size) {   (one process: rank 0, size 1)
 *         batch `index` ... bound ... exact log-likelihoods ll (exact models)
 *         if (size > 1) fivo_eval_records_add(&recs, index, &batch, &res, ll);
 *         else          add_batch(stats, &batch, &res, ll, err);
 *     }
 *     if (size > 1)     (collective: every rank, also after a failure)
 *         st = fivo_eval_records_replay(&recs, st, add_batch, stats, N, exact, err);
 * The per-batch function reads only what a record holds (lengths, log
 * p-hat, ll, log_weight_var, resample_rate); one that needs more of the
 * batch or result must add it to the record. */
#ifndef FIVO_EVAL_RECORDS_H
#define FIVO_EVAL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fivo/fivo.h>

/* Called for each batch of an eval pass with the bound's result and, for
 * models with an exact likelihood, each sequence's (else NULL). In a
 * replayed pass the batch has lengths only (no inputs or targets). */
typedef fivo_status (*fivo_eval_visit_fn)(void *user, const fivo_batch *batch,
                                          const fivo_smc_result *res, const double *ll,
                                          fivo_error *err);

typedef struct fivo_eval_records {
    double *v;
    size_t n, cap;
    bool oom;
} fivo_eval_records;

/* Keeps batch `index`'s results (see above). */
void fivo_eval_records_add(fivo_eval_records *r, uint64_t index, const fivo_batch *batch,
                           const fivo_smc_result *res, const double *ll);

/* Collective. Agrees on `st` (this rank's pass status) across ranks; if
 * every rank is fine, gathers the records and calls `visit` for every
 * batch in index order (results of `num_particles` particles; ll only when
 * `exact`). Frees the records. */
fivo_status fivo_eval_records_replay(fivo_eval_records *r, fivo_status st,
                                     fivo_eval_visit_fn visit, void *user, int num_particles,
                                     bool exact, fivo_error *err);

#endif
