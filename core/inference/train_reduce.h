/* The exact sum of the shards' gradients in a training step (see
 * fivo/train_step.h and the fixed-point sums in fivo/shards.h): each
 * tensor's scale comes from its largest exponent over every shard, so the
 * sum is the same bits whichever rank or thread holds which shard. */
#ifndef FIVO_TRAIN_REDUCE_H
#define FIVO_TRAIN_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>
#include <fivo/params.h>
#include <fivo/internal/threads.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] := max over the `num_local` shards of shard_exps[j][i] (each
 * shard's row has `ntensors` exponents), FIVO_FIXED_EXP_ZERO with none. */
void fivo_train_reduce_exponents(const int32_t *shard_exps, int num_local, int ntensors,
                                 int32_t *out);

/* Collective. The gradients of this rank's `num_local` shards (grads:
 * [num_local][nvalues], tensors in `params`' order) summed exactly in
 * fixed point with each tensor's exponent exps[i] (agreed across ranks)
 * for a step of `shards` shards in all, then over every rank; the sum goes
 * to params' grad buffers. acc: nvalues int64 of scratch. The local sums
 * and the conversion back run in fixed pieces of values on `pool` (NULL:
 * on the caller); integer sums are exact, so the bits do not depend on it. */
fivo_status fivo_train_reduce_gradients(fivo_params *params, const float *grads, int num_local,
                                        const int32_t *exps, int shards, int64_t *acc,
                                        fivo_threads *pool, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
