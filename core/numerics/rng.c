/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 *
 * Key   = (seed low word, seed high word ^ mix(purpose))
 * Count = (block index within the row, row, step low word, step high word)
 * so every (seed, purpose, step, row, index) names its own block and
 * distinct streams never share a counter. */
#include "ctx_internal.h"
#include "fastmath.h"

#include <fivo/rng.h>

#include <math.h>
#include <stdlib.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void fivo_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* murmur3's finaliser: spreads small purpose numbers over the key word. */
static uint32_t mix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static inline void block(const fivo_rng *r, uint32_t row, uint32_t index, uint32_t out[4])
{
    uint32_t key[2] = {(uint32_t)r->seed, (uint32_t)(r->seed >> 32) ^ mix32(r->purpose + 0x5BD1E995u)};
    uint32_t ctr[4] = {index, row, (uint32_t)r->step, (uint32_t)(r->step >> 32)};
    fivo_philox4x32(ctr, key, out);
}

/* 23 random bits centred in their cell: strictly inside (0, 1) in float. */
static inline float u01f(uint32_t x) { return ((float)(x >> 9) + 0.5f) * (1.0f / 8388608.0f); }
/* Philox4x32-10 for the nb consecutive blocks idx0.. of one (key, row,
 * step), fused with Box-Muller in float: block b's words (w0, w1) and
 * (w2, w3) give out[4b .. 4b + 3]. Lanes are independent blocks, so the
 * rounds vectorise (32 x 32 -> 64-bit products) along with the transform.
 * w0 gives the radius sqrt(-2 log u1), u1 = (w0 + 1/2) 2^-32 (strictly
 * inside (0, 1) up to float rounding near 1: the tail reaches 6.7 sigma),
 * w1's top 24 bits the angle. */
static inline float bm_u1(uint32_t a)
{
    float u = ((float)(int32_t)(a >> 8) * 256.0f + ((float)(int32_t)(a & 0xffu) + 0.5f)) *
              (1.0f / 4294967296.0f);
    return u < 0.99999994f ? u : 0.99999994f;
}

static inline float bm_t(uint32_t b) { return ((float)(int32_t)(b >> 8) + 0.5f) * (1.0f / 16777216.0f); }

FIVO_KERNEL static void philox_normals(int nb, uint32_t idx0, uint32_t row, uint32_t s0, uint32_t s1,
                                       uint32_t key0, uint32_t key1, float *restrict out)
{
    for (int b = 0; b < nb; b++) {
        uint32_t c0 = idx0 + (uint32_t)b, c1 = row, c2 = s0, c3 = s1, k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
            uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c1 = (uint32_t)p1;
            c3 = (uint32_t)p0;
            c0 = n0;
            c2 = n2;
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        float r0 = sqrtf(-2.0f * fivo__flog(bm_u1(c0))), r1 = sqrtf(-2.0f * fivo__flog(bm_u1(c2)));
        float s0v, c0v, s1v, c1v;
        fivo__fsincos_2pi(bm_t(c1), &s0v, &c0v);
        fivo__fsincos_2pi(bm_t(c3), &s1v, &c1v);
        out[4 * b] = r0 * c0v;
        out[4 * b + 1] = r0 * s0v;
        out[4 * b + 2] = r1 * c1v;
        out[4 * b + 3] = r1 * s1v;
    }
}

void fivo_rng_uniform(const fivo_rng *r, uint32_t row, float *out, int n)
{
    uint32_t w[4];
    for (int i = 0; i < n; i += 4) {
        block(r, row, (uint32_t)(i / 4), w);
        int m = n - i < 4 ? n - i : 4;
        for (int k = 0; k < m; k++)
            out[i + k] = u01f(w[k]);
    }
}

void fivo_rng_uniform_double(const fivo_rng *r, uint32_t row, double *out, int n)
{
    uint32_t w[4];
    for (int i = 0; i < n; i += 2) {
        block(r, row, (uint32_t)(i / 2), w);
        int m = n - i < 2 ? n - i : 2;
        for (int k = 0; k < m; k++) {
            uint64_t v = ((uint64_t)w[2 * k] << 32) | w[2 * k + 1];
            /* 52 bits centred in their cell: strictly inside (0, 1). */
            out[i + k] = ((double)(v >> 12) + 0.5) * (1.0 / 4503599627370496.0);
        }
    }
}

void fivo_rng_normal(const fivo_rng *r, uint32_t row, float *out, int n)
{
    uint32_t k0 = (uint32_t)r->seed, k1 = (uint32_t)(r->seed >> 32) ^ mix32(r->purpose + 0x5BD1E995u);
    uint32_t s0 = (uint32_t)r->step, s1 = (uint32_t)(r->step >> 32);
    int whole = n / 4 * 4;
    if (whole > 0)
        philox_normals(whole / 4, 0, row, s0, s1, k0, k1, out);
    if (whole < n) { /* the last, partial block */
        float z[4];
        philox_normals(1, (uint32_t)(whole / 4), row, s0, s1, k0, k1, z);
        memcpy(out + whole, z, (size_t)(n - whole) * sizeof(float));
    }
}

uint64_t fivo_rng_u64(const fivo_rng *r, uint32_t row, uint64_t index)
{
    uint32_t w[4];
    block(r, row, (uint32_t)(index >> 1), w);
    int k = (int)(index & 1) * 2;
    return ((uint64_t)w[k] << 32) | w[k + 1];
}

/* ---- the context's streams --------------------------------------------- */

void fivo_ctx_set_seed(fivo_ctx *ctx, uint64_t seed, uint64_t global_step)
{
    ctx->seed = seed;
    ctx->global_step = global_step;
}

fivo_rng fivo_ctx_rng(const fivo_ctx *ctx, uint32_t purpose, uint32_t t)
{
    /* The counter's step word holds the global step's low 32 bits over the
     * timestep; the global step's high 32 bits go into the key, so the
     * domains the host keeps apart by high bits (eval, sample) never share
     * a stream with a training step, and steps below 2^32 keep their values. */
    uint64_t domain = ctx->global_step >> 32;
    uint64_t seed = domain == 0 ? ctx->seed : ctx->seed ^ (domain * UINT64_C(0x9E3779B97F4A7C15));
    return fivo_rng_make(seed, purpose, (ctx->global_step << 32) | t);
}

void fivo_ctx_set_row_keys(fivo_ctx *ctx, const uint32_t *keys, int rows)
{
    if (keys == NULL || rows <= 0) {
        ctx->nrow_keys = 0;
        return;
    }
    if (rows > ctx->cap_row_keys) {
        uint32_t *k = realloc(ctx->row_keys, (size_t)rows * sizeof *k);
        if (k == NULL) {
            fivo_ctx_fail(ctx, FIVO_ERR_NOMEM, "set_row_keys: cannot store %d keys", rows);
            ctx->nrow_keys = 0;
            return;
        }
        ctx->row_keys = k;
        ctx->cap_row_keys = rows;
    }
    memcpy(ctx->row_keys, keys, (size_t)rows * sizeof *keys);
    ctx->nrow_keys = rows;
}

uint32_t fivo_ctx_row_key(const fivo_ctx *ctx, int row)
{
    return row >= 0 && row < ctx->nrow_keys ? ctx->row_keys[row] : (uint32_t)row;
}

fivo_tensor *fivo_randn(fivo_ctx *ctx, uint32_t purpose, uint32_t t, int rows, int cols)
{
    fivo_tensor *y = fivo__tensor(ctx, rows, cols);
    if (y == &ctx->dummy)
        return y;
    fivo_rng r = fivo_ctx_rng(ctx, purpose, t);
    for (int i = 0; i < rows; i++)
        fivo_rng_normal(&r, fivo_ctx_row_key(ctx, i), y->data + (size_t)i * cols, cols);
    return y;
}

fivo_tensor *fivo_rand_uniform(fivo_ctx *ctx, uint32_t purpose, uint32_t t, int rows, int cols)
{
    fivo_tensor *y = fivo__tensor(ctx, rows, cols);
    if (y == &ctx->dummy)
        return y;
    fivo_rng r = fivo_ctx_rng(ctx, purpose, t);
    for (int i = 0; i < rows; i++)
        fivo_rng_uniform(&r, fivo_ctx_row_key(ctx, i), y->data + (size_t)i * cols, cols);
    return y;
}
