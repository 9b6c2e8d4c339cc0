/* One training step over the global batch in fixed shards (fivo/shards.h),
 * on one process or spread over MPI ranks (fivo/comm.h). Host-facing: the
 * host opens the plugins and calls this; plugins never see it.
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
 *      all-reduce of the parameter count in int64 (train_reduce.c);
 *   4. the per-sequence results are gathered in batch order for the reports.
 * The caller then applies the same Adam step on every rank. The result
 * depends on (seed, step, B, S) only: K ranks give the bits of one process.
 * S = 1 on one process is the plain step (no slicing, no fixed point).
 *
 * Threads: with threads = N > 1 and more than one own shard, a rank
 * computes its shards on min(N, own shards) threads, each with its own
 * replica of the model, bound, resampler and context (opened by the
 * caller's fivo_train_replicas), taking shards longest first from a queue; the fixed-point
 * sum makes the order irrelevant, so the bits are those of one thread (and
 * of any rank count). With one own shard the threads go to the products
 * instead (fivo_ctx_set_threads). */
#ifndef FIVO_TRAIN_STEP_H
#define FIVO_TRAIN_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/resampling_grads.h>
#include <fivo/fivo.h>
#include <fivo/internal/shards.h>
#include <fivo/internal/threads.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [train] use_resampling_grads: the baseline's name in the parameter store
 * (under the trainer's prefix, so checkpoints carry it and eval skips it). */
#define FIVO_TRAIN_RGRADS_BASELINE FIVO_CHECKPOINT_TRAINER_PREFIX "resampling_grads_baseline"

/* Per sequence in the gather across ranks: log p-hat, exact ll, resampling
 * steps, then the bound's metric sums. */
#define FIVO_TRAINER_SEQ_VALUES (3 + FIVO_BOUND_MAX_METRICS)

/* What computes a shard: a parameter store with the model, bound and
 * resampler bound to it, and a tensor context. */
typedef struct fivo_train_unit {
    fivo_params *params;
    fivo_model *model;
    fivo_bound *bound;
    fivo_resampler *resampler;
    fivo_ctx *ctx;
} fivo_train_unit;

/* How the step gets a unit for each extra shard thread: `open` opens the
 * same plugins with the same settings on a fresh parameter store whose
 * tensors are registered in the same order as the caller's (the step copies
 * the values in before each use) and a context of its own; `close` closes
 * what `open` returned in *handle. */
typedef struct fivo_train_replicas {
    fivo_status (*open)(void *user, fivo_train_unit *out, void **handle, fivo_error *err);
    void (*close)(void *user, void *handle);
    void *user;
} fivo_train_replicas;

typedef struct fivo_train_setup {
    fivo_train_unit unit;       /* the caller's own objects: thread 0 */
    fivo_dataset *dataset;      /* the train split, read shuffled */
    const char *dataset_name, *dataset_path; /* for messages */
    uint64_t seed;
    int batch_size, num_samples;
    int shards, threads;        /* resolved and checked (fivo_shards_check) */
    bool normalize;             /* [train] normalize_by_seq_len */
    /* [train] use_resampling_grads and resampling_grads_decay: the unit's
     * parameters then hold the baseline FIVO_TRAIN_RGRADS_BASELINE (one
     * slot per step, no gradient), which the step moves after each batch. */
    bool resampling_grads;
    double resampling_grads_decay;
    fivo_train_replicas replicas; /* needed only when threads > 1 */
} fivo_train_setup;

typedef struct fivo_trainer {
    fivo_train_setup set;
    int shards, ranks, rank;
    int first_shard, num_local; /* this rank's shards */
    bool exact;                 /* the model has an exact likelihood */
    fivo_shard_buffer buf;
    int ntensors;
    size_t nvalues;             /* parameter floats */
    float *grads;               /* [num_local][nvalues]: each own shard's gradient */
    int64_t *acc;               /* [nvalues] fixed-point sum */
    int workers;                /* threads computing shards (1: the caller only) */
    fivo_train_unit *replicas;  /* [workers - 1], for threads 1.. */
    void **replica_handles;     /* [workers - 1] */
    fivo_shard_buffer *bufs;    /* [workers - 1]: their batch slices */
    fivo_threads *pool;         /* workers threads, or NULL */
    int32_t *shard_exps;        /* [num_local][ntensors]: each shard's gradient exponents */
    fivo_status *shard_status;  /* [num_local] */
    fivo_error *shard_err;      /* [num_local] */
    int32_t *shard_order;       /* [num_local]: this step's shards, longest first */
    int next_shard;             /* the shard threads' queue into shard_order (atomic) */
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
    /* [train] use_resampling_grads: a recorder per shard thread, the
     * baseline (the parameter FIVO_TRAIN_RGRADS_BASELINE, one
     * slot per step) and the step's rewards [B][baseline_len] in batch
     * order, from which the baseline moves after each step. */
    fivo_resampling_grads **rgrads; /* [workers], or NULL when off */
    float *baseline;
    int baseline_len;
    double rgrads_decay;
    double *rewards;
} fivo_trainer;

/* Allocates and opens the shard threads' replicas. On failure closes what
 * it opened and returns the status with the reason in err. */
fivo_status fivo_trainer_open(fivo_trainer *t, const fivo_train_setup *set, fivo_error *err);
void fivo_trainer_close(fivo_trainer *t);

/* Collective (every rank, every step). Leaves the combined gradient in the
 * parameters' grad buffers and the results in t. `*stop` (in: this rank
 * wants to stop, e.g. a signal; out: some rank does) travels with the
 * status, so all ranks stop after the same step. `pending` != FIVO_OK (with
 * its message in *err) is a failure this rank had since the last step (rank
 * 0 could not write a checkpoint): it is reported instead of computing. On
 * failure every rank returns the same status and message, naming the
 * failing rank when there are several. */
fivo_status fivo_trainer_step(fivo_trainer *t, long step, fivo_status pending, bool *stop,
                              fivo_error *err);

/* The per-sequence results of every rank into t's arrays in batch order,
 * then the batch's resampling rate (train_gather.c). Collective. */
fivo_status fivo_trainer_gather(fivo_trainer *t, fivo_error *err);

/* Test seam: where a step lets a test make one rank misbehave (the MPI
 * fault tests' LD_PRELOAD shim, tests/reliability/fault_train.c). At
 * FIVO_TRAIN_AT_BATCH (before the step's batch is read; res is NULL) and
 * at FIVO_TRAIN_AT_BOUND (after each shard's bound, before its finite
 * check) the hook may fail the step with a status and message, change the
 * result, or end the process. No hook is set in production. */
typedef enum { FIVO_TRAIN_AT_BATCH, FIVO_TRAIN_AT_BOUND } fivo_train_point;
typedef fivo_status (*fivo_train_test_hook)(fivo_train_point at, const fivo_trainer *t, long step,
                                            fivo_smc_result *res, fivo_error *err);
void fivo_train_set_test_hook(fivo_train_test_hook hook);

#ifdef __cplusplus
}
#endif
#endif
