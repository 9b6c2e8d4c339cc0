/* One training step over the global batch in fixed shards (fivo/shards.h),
 * on one process or spread over MPI ranks (fivo/comm.h).
 *
 * [fivo] shards = S (default: batch_size, one sequence per shard) cuts the
 * global batch ([fivo] batch_size)
 * into S shards; with K ranks each rank computes shards [r*S/K, (r+1)*S/K)
 * one after the other (so S % K == 0). Per step:
 *   1. every rank takes the same global batch (a pure function of seed and
 *      step) and, per own shard: bound, loss with the global batch's 1/B,
 *      backward, the shard's gradient kept aside;
 *   2. one small all-reduce (max) carries each rank's status (a failed
 *      batch, a NaN bound or gradient) and each tensor's gradient exponent:
 *      if any rank failed, every rank stops here with that rank's message;
 *   3. the shards' gradients are summed exactly in fixed point (int64), one
 *      all-reduce of the parameter count in int64;
 *   4. the per-sequence results are gathered in batch order for the reports.
 * The caller then applies the same Adam step on every rank. The result
 * depends on (seed, step, B, S) only: K ranks give the bits of one process.
 * S = 1 on one process is the plain step (no slicing, no fixed point).
 *
 * Threads: with [fivo] threads = N > 1 and more than one own shard, a rank
 * computes its shards on min(N, own shards) threads, each with its own
 * replica of the model, bound, resampler and context (fivo_replica), shard
 * j on thread j mod W; the fixed-point sum makes the order irrelevant, so
 * the bits are those of one thread (and of any rank count). With one own
 * shard the threads go to the products instead (fivo_ctx_set_threads). */
#ifndef FIVO_HOST_TRAIN_STEP_H
#define FIVO_HOST_TRAIN_STEP_H

#include <fivo/internal/shards.h>
#include <fivo/internal/threads.h>

#include "session.h"

/* Per sequence in the gather across ranks: log p-hat, exact ll, resampling
 * steps, then the bound's metric sums. */
#define FIVO_TRAINER_SEQ_VALUES (3 + FIVO_BOUND_MAX_METRICS)

typedef struct fivo_trainer {
    int shards, ranks, rank;
    int first_shard, num_local; /* this rank's shards */
    bool normalize;             /* [train] normalize_by_seq_len */
    bool exact;                 /* the model has an exact likelihood */
    fivo_shard_buffer buf;
    int ntensors;
    size_t nvalues;             /* parameter floats */
    float *grads;               /* [num_local][nvalues]: each own shard's gradient */
    int64_t *acc;               /* [nvalues] fixed-point sum */
    int workers;                /* threads computing shards (1: the caller only) */
    fivo_replica *replicas;     /* [workers - 1], for threads 1.. */
    fivo_shard_buffer *bufs;    /* [workers - 1]: their batch slices */
    fivo_threads *pool;         /* workers threads, or NULL */
    int32_t *shard_exps;        /* [num_local][ntensors]: each shard's gradient exponents */
    fivo_status *shard_status;  /* [num_local] */
    fivo_error *shard_err;      /* [num_local] */
    int32_t *exps;              /* [1 + ntensors]: stop flag, then exponents */
    double *mine;               /* own sequences' results, FIVO_TRAINER_SEQ_VALUES per sequence */
    /* The global batch's per-sequence results after a step, in batch order. */
    int batch_size;
    int32_t *lengths;           /* [B] */
    float *log_phat;            /* [B] */
    double *ll;                 /* [B] exact log-likelihood (exact models) */
    int32_t *resampled;         /* [B] resampling steps of each sequence */
    int64_t resample_steps, valid_steps;
    double resample_rate;
    /* The bound's train_loss metrics (fivo/plugin_bound.h): names from
     * the first own shard, and per sequence [B][FIVO_BOUND_MAX_METRICS]
     * each shard's sums stored at its first sequence (0 elsewhere), so a
     * batch's total is the sum over sequences whatever the sharding. */
    int num_metrics;
    const char *metric_names[FIVO_BOUND_MAX_METRICS];
    double *metric_sums;
    /* Test hook FIVO_TEST_FAULT=rank:step:kind (exit | nan | error). */
    int fault_rank, fault_kind;
    long fault_step;
} fivo_trainer;

/* For `shards` shards on this process's `threads` threads ([fivo] shards
 * and threads, resolved and checked against the batch size and rank count
 * by settings.c). Allocates. Returns 0, or the exit code after printing the
 * error. */
int fivo_trainer_open(fivo_trainer *t, fivo_session *s, bool normalize, int shards, int threads);
void fivo_trainer_close(fivo_trainer *t);

/* Collective (every rank, every step). Leaves the combined gradient in the
 * parameters' grad buffers and the results in t. `*stop` (in: this rank
 * wants to stop, e.g. a signal; out: some rank does) travels with the
 * status, so all ranks stop after the same step. `pending` != FIVO_OK (with
 * its message in *err) is a failure this rank had since the last step (rank
 * 0 could not write a checkpoint): it is reported instead of computing. On
 * failure every rank returns the same status and message, naming the
 * failing rank when there are several. */
fivo_status fivo_trainer_step(fivo_trainer *t, fivo_session *s, long step, fivo_status pending,
                              bool *stop, fivo_error *err);

#endif
