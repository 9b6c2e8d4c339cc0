/* Fixed shards of a global batch, and the exact sum that combines their
 * gradients.
 *
 * The global batch (B sequences) is cut into S shards that depend only on
 * B and S, never on how many ranks or threads compute them: shard i holds
 * sequences [i*B/S, (i+1)*B/S) (integer division, so sizes differ by at
 * most one), cut to its own longest sequence: the steps past every one of
 * its ends carry no weight and no gradient (each sequence's values are the
 * whole batch's up to float rounding), and on long uneven data they were
 * most of the work (MuseData, batch 4: 56 %). Each shard's gradient
 * is computed on its own (the loss keeps the 1/B of the global batch), and
 * the shards are summed in fixed point: each tensor's values are scaled by
 * 2^e, rounded to int64 and added as integers. Integer addition is
 * associative, so the sum is the same bits whichever rank or thread holds
 * which shard and in whatever order MPI reduces. The exponent e of a tensor
 * comes from the largest magnitude in any shard (an element-wise max, also
 * order-free), leaving 62 - ceil(log2 S) bits above the rounding point:
 * the absolute error per element is at most S * 2^-e, about 2^-60 of the
 * tensor's largest value — finer than float32's own rounding for every
 * element within 2^36 of that largest value.
 *
 * One shard (the default) is the plain unsharded computation: no slicing,
 * no fixed point, today's bits. */
#ifndef FIVO_SHARDS_H
#define FIVO_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/batch.h>
#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sequences [*first, *first + *count) of a batch of `batch_size` make shard i of `shards`. */
void fivo_shard_range(int batch_size, int shards, int i, int *first, int *count);

/* Checks that `shards` fits a global batch of `batch_size` sequences and
 * `ranks` processes: 1 <= shards <= batch_size and shards % ranks == 0.
 * The message names the key ([fivo] shards) and every number involved. */
fivo_status fivo_shards_check(int batch_size, int shards, int ranks, fivo_error *err);

/* A shard's own copy of its sequences (time-major buffers are strided, so
 * a shard cannot point into the global batch). Reused across steps. */
typedef struct fivo_shard_buffer {
    float *inputs, *targets;
    int32_t *lengths, *seq_ids;
    size_t cap_values;
    int cap_rows;
    /* When set: the first growth makes room for at least this many values
     * and touches them, so a later, longer shard faults no pages in (the
     * trainer sets it from the split's longest sequence). */
    size_t reserve_values;
} fivo_shard_buffer;

/* *out := sequences [first, first + count) of `full` (dim of `full`;
 * max_len the longest of these sequences; seq_ids copied when present).
 * out's pointers go into buf. */
fivo_status fivo_shard_slice(const fivo_batch *full, int first, int count, fivo_shard_buffer *buf,
                             fivo_batch *out, fivo_error *err);
void fivo_shard_buffer_free(fivo_shard_buffer *buf);

/* ---- exact sums in fixed point ----------------------------------------- */

/* Exponent below every value: a tensor that is zero in every shard. */
#define FIVO_FIXED_EXP_ZERO (-400)

/* The smallest k with |x[i]| < 2^k for every i (FIVO_FIXED_EXP_ZERO when
 * all are zero). Values must be finite. */
int32_t fivo_fixed_max_exponent(const float *x, size_t n);

/* The scale 2^e used for a tensor whose values are below 2^max_exp in each
 * of `terms` addends: sums stay below 2^62. */
int fivo_fixed_scale(int32_t max_exp, int terms);

/* acc[i] += round(x[i] * 2^e) (to nearest, ties to even). */
void fivo_fixed_add(int64_t *acc, const float *x, size_t n, int e);

/* out[i] := (float)(acc[i] * 2^-e). */
void fivo_fixed_to_float(float *out, const int64_t *acc, size_t n, int e);

#ifdef __cplusplus
}
#endif
#endif
