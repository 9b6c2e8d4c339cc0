/* The exact sum of a training step's shard gradients (see train_reduce.h). */
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

fivo_status fivo_train_reduce_gradients(fivo_params *params, const float *grads, int num_local,
                                        const int32_t *exps, int shards, int64_t *acc,
                                        fivo_error *err)
{
    int ntensors = fivo_params_count(params);
    size_t nvalues = fivo_params_num_values(params);
    if (ntensors == 0)
        return FIVO_OK;
    memset(acc, 0, sizeof(int64_t) * nvalues);
    for (int j = 0; j < num_local; j++) {
        const float *g = grads + (size_t)j * nvalues;
        int64_t *a = acc;
        for (int i = 0; i < ntensors; i++) {
            size_t n = fivo_tensor_size(fivo_params_at(params, i, NULL));
            fivo_fixed_add(a, g, n, fivo_fixed_scale(exps[i], shards));
            g += n;
            a += n;
        }
    }
    fivo_status st = fivo_comm_sum_int64(acc, nvalues, err);
    if (st != FIVO_OK)
        return st;
    const int64_t *a = acc;
    for (int i = 0; i < ntensors; i++) {
        fivo_tensor *p = fivo_params_at(params, i, NULL);
        size_t n = fivo_tensor_size(p);
        fivo_fixed_to_float(p->grad, a, n, fivo_fixed_scale(exps[i], shards));
        a += n;
    }
    return FIVO_OK;
}
