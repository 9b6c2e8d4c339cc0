/* Seeded permutations for dataset order and hold-out splits.
 *
 * Epoch e of a shuffled dataset of n sequences is the Fisher-Yates
 * permutation driven by the stream (seed, FIVO_RNG_SHUFFLE, e): a pure
 * function of (seed, e, n), so batch k of a training run can be rebuilt from
 * (seed, k) alone, e.g. on resume. */
#ifndef FIVO_SHUFFLE_H
#define FIVO_SHUFFLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* perm[0..n) := the permutation of 0..n-1 for (seed, purpose, epoch). */
void fivo_shuffle_permutation(uint64_t seed, uint32_t purpose, uint64_t epoch, int32_t n,
                              int32_t *perm);

#ifdef __cplusplus
}
#endif
#endif
