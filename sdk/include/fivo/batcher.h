/* Padded, time-major batches over a split of variable-length sequences: the
 * part every sequence dataset shares (choosing the sequences of batch k, in
 * order or shuffled by epoch, sizing and zeroing the buffers, and the
 * one-step shift from targets to inputs), so a dataset plugin only writes
 * each sequence's frames.
 *
 * Shuffled batches are a pure function of (seed, index): position p =
 * index * batch_size + i of the endless stream is sequence
 * perm_e[p mod n] of epoch e = p / n, perm_e from fivo_shuffle_permutation
 * with purpose FIVO_RNG_SHUFFLE. In order, batch k holds sequences
 * k*B .. k*B+B-1 (the last batch may be short), then FIVO_END. */
#ifndef FIVO_BATCHER_H
#define FIVO_BATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/batch.h>
#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_batcher fivo_batcher;

/* A batcher for n sequences of lengths[0..n) timesteps of dim values each.
 * `who` (e.g. "speech") starts its error messages. Both pointers are
 * borrowed and MUST outlive the batcher. */
fivo_status fivo_batcher_create(const char *who, int32_t n, const int32_t *lengths, int dim,
                                fivo_batcher **out, fivo_error *err);
void fivo_batcher_destroy(fivo_batcher *b);

/* Chooses the sequences of batch `index`, sizes and zeroes the [T, B, D]
 * buffers, and fills *out (max_len, batch_size, dim, lengths, seq_ids,
 * inputs, targets). The caller then writes sequence out->seq_ids[i]'s frame
 * t at fivo_batch_at(*targets, out, t, i) for t < out->lengths[i], and calls
 * fivo_batcher_shift. FIVO_END past the end of an in-order pass; an empty
 * split is FIVO_END in order and an error when shuffled. The buffers stay
 * valid until the next call or destroy. */
fivo_status fivo_batcher_begin(fivo_batcher *b, int batch_size, bool shuffle, uint64_t seed,
                               uint64_t index, fivo_batch *out, float **targets,
                               fivo_error *err);

/* Fills the inputs of the batch begun last: inputs at t + 1 := targets at t
 * minus offset[0..dim) (NULL: a plain copy), for t + 1 < length; zero at
 * t = 0 and past each length. */
void fivo_batcher_shift(fivo_batcher *b, const float *offset);

#ifdef __cplusplus
}
#endif
#endif
