/* The exact sum of a training step's shard gradients (see train_reduce.h). */
#include <stdbool.h>
#include <string.h>

#include <fivo/internal/comm.h>
#include <fivo/internal/shards.h>

#include "train_reduce.h"

void fivo_train_reduce_exponents(const int32_t *shard_exps, int num_local, int ntensors,
                                 int32_t *out)
{
    for (int i = 0; i < ntensors; i++) {
        out[i] = FIVO_FIXED_EXP_ZERO;
        for (int j = 0; j < num_local; j++) {
            int32_t e = shard_exps[(size_t)j * (size_t)ntensors + (size_t)i];
            if (e > out[i])
                out[i] = e;
        }
    }
}

/* A piece of the reduction: values [lo, hi) of the flat parameter vector.
 * Small enough that a latent-32 VRNN (31k values) makes several: at 2^15 it
 * was one piece, all on the caller (JSB latent 32, 4 shards, 2 threads:
 * 215 us of a 3.5 ms step; 97-115 us in pieces of 2^12). */
enum { REDUCE_PIECE = 1 << 12 };

typedef struct reduce_job {
    fivo_params *params;
    const float *grads;
    int num_local, shards, ntensors;
    size_t nvalues;
    const int32_t *exps;
    int64_t *acc;
    bool back; /* false: the local fixed-point sum; true: back to float */
} reduce_job;

static void reduce_piece(void *arg, int piece)
{
    const reduce_job *j = arg;
    size_t lo = (size_t)piece * REDUCE_PIECE;
    size_t hi = lo + REDUCE_PIECE < j->nvalues ? lo + REDUCE_PIECE : j->nvalues;
    if (!j->back)
        memset(j->acc + lo, 0, sizeof(int64_t) * (hi - lo));
    size_t off = 0; /* tensor i's first value */
    for (int i = 0; i < j->ntensors && off < hi; i++) {
        fivo_tensor *p = fivo_params_at(j->params, i, NULL);
        size_t n = fivo_tensor_size(p);
        size_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;
        if (a < b) {
            int scale = fivo_fixed_scale(j->exps[i], j->shards);
            if (j->back)
                fivo_fixed_to_float(p->grad + (a - off), j->acc + a, b - a, scale);
            else
                for (int s = 0; s < j->num_local; s++)
                    fivo_fixed_add(j->acc + a, j->grads + (size_t)s * j->nvalues + a, b - a, scale);
        }
        off += n;
    }
}

fivo_status fivo_train_reduce_gradients(fivo_params *params, const float *grads, int num_local,
                                        const int32_t *exps, int shards, int64_t *acc,
                                        fivo_threads *pool, fivo_error *err)
{
    int ntensors = fivo_params_count(params);
    size_t nvalues = fivo_params_num_values(params);
    if (ntensors == 0)
        return FIVO_OK;
    reduce_job job = {params, grads, num_local, shards, ntensors, nvalues, exps, acc, false};
    int pieces = (int)((nvalues + REDUCE_PIECE - 1) / REDUCE_PIECE);
    fivo_threads_run(pool, pieces, reduce_piece, &job);
    fivo_status st = fivo_comm_sum_int64(acc, nvalues, err);
    if (st != FIVO_OK)
        return st;
    job.back = true;
    fivo_threads_run(pool, pieces, reduce_piece, &job);
    return FIVO_OK;
}
