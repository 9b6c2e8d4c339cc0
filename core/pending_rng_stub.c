/* TEMPORARY (branch datasets): a weak stand-in for fivo_rng_u64 until the
 * numerics branch (core/rng.c, Philox) is merged; the real, strong
 * definition replaces it at link time. Delete this file at that merge. */
#include <fivo/rng.h>

__attribute__((weak)) uint64_t fivo_rng_u64(const fivo_rng *r, uint32_t row, uint64_t index)
{
    uint64_t z = r->seed ^ ((uint64_t)r->purpose << 32) ^ (r->step * 0x9e3779b97f4a7c15ull) ^
                 ((uint64_t)row << 48) ^ (index * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 2; i++) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
    }
    return z;
}
