/* Counter-based random numbers (Philox4x32-10).
 *
 * A value is a pure function of (seed, purpose, step, row, index): there is
 * no hidden state, so a run is bit-identical for a seed regardless of thread
 * count, batch order of evaluation, or resume from a checkpoint. `purpose`
 * separates independent uses (init, proposal noise, resampling, shuffling);
 * `step` is e.g. the training step combined with the timestep; `row` is the
 * particle row (or a stable per-row key, see fivo_ctx_set_row_keys). */
#ifndef FIVO_RNG_H
#define FIVO_RNG_H

#include <stdint.h>

#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Purposes used by fivo itself; plugins may use values >= FIVO_RNG_USER. */
enum {
    FIVO_RNG_INIT = 1,       /* parameter initialisation */
    FIVO_RNG_PROPOSAL = 2,   /* reparameterised latent noise */
    FIVO_RNG_RESAMPLE = 3,   /* resampler uniforms */
    FIVO_RNG_SHUFFLE = 4,    /* dataset order */
    FIVO_RNG_EMISSION = 5,   /* sampling observations */
    FIVO_RNG_DATA = 6,       /* synthetic data generation */
    FIVO_RNG_USER = 1000
};

typedef struct fivo_rng {
    uint64_t seed;
    uint32_t purpose;
    uint64_t step;
} fivo_rng;

static inline fivo_rng fivo_rng_make(uint64_t seed, uint32_t purpose, uint64_t step)
{
    fivo_rng r;
    r.seed = seed;
    r.purpose = purpose;
    r.step = step;
    return r;
}

/* The raw block function: counter (4 words) and key (2 words) -> 4 words. */
void fivo_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* n values for one row of a stream. Uniforms are in the open interval (0,1). */
void fivo_rng_uniform(const fivo_rng *r, uint32_t row, float *out, int n);
void fivo_rng_uniform_double(const fivo_rng *r, uint32_t row, double *out, int n);
void fivo_rng_normal(const fivo_rng *r, uint32_t row, float *out, int n);
/* A single uint64 (e.g. for shuffles): value number `index` of the row. */
uint64_t fivo_rng_u64(const fivo_rng *r, uint32_t row, uint64_t index);

/* ---- the context's streams ----------------------------------------------
 * The context carries a seed and a global step (the training step, or the
 * eval batch number) and optional per-row keys. fivo_ctx_rng() returns the
 * stream for (purpose, t) within that step. Per-row keys let a sequence get
 * the same random numbers whatever batch it is in: the SMC engine sets
 * key = sequence_id * num_particles + particle when the batch carries ids. */
/* The domains of a global step: training steps are below 2^32; bits above
 * that name a separate domain whose streams never coincide with any
 * training step's. Initialisation is not a step: parameters draw from
 * purpose FIVO_RNG_INIT keyed by their name (fivo_params_new). */
#define FIVO_RNG_DOMAIN_TRAIN UINT64_C(0)              /* + training step */
#define FIVO_RNG_DOMAIN_EVAL (UINT64_C(1) << 62)       /* + eval batch number */
#define FIVO_RNG_DOMAIN_SAMPLE (UINT64_C(3) << 62)     /* the sampling pass */

void fivo_ctx_set_seed(fivo_ctx *ctx, uint64_t seed, uint64_t global_step);
fivo_rng fivo_ctx_rng(const fivo_ctx *ctx, uint32_t purpose, uint32_t t);
void fivo_ctx_set_row_keys(fivo_ctx *ctx, const uint32_t *keys, int rows); /* NULL = row index */
uint32_t fivo_ctx_row_key(const fivo_ctx *ctx, int row);

/* rows x cols standard normals from stream (purpose, t), row r keyed by
 * fivo_ctx_row_key(ctx, r). No gradient. */
fivo_tensor *fivo_randn(fivo_ctx *ctx, uint32_t purpose, uint32_t t, int rows, int cols);
fivo_tensor *fivo_rand_uniform(fivo_ctx *ctx, uint32_t purpose, uint32_t t, int rows, int cols);

#ifdef __cplusplus
}
#endif
#endif
