/* Fisher-Yates permutations from the counter-based RNG (see fivo/shuffle.h). */
#include <fivo/rng.h>
#include <fivo/shuffle.h>

void fivo_shuffle_permutation(uint64_t seed, uint32_t purpose, uint64_t epoch, int32_t n,
                              int32_t *perm)
{
    fivo_rng r = fivo_rng_make(seed, purpose, epoch);
    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        /* 64 random bits modulo at most 2^31: the bias is below 2^-32. */
        int32_t j = (int32_t)(fivo_rng_u64(&r, 0, (uint64_t)i) % (uint64_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
