/* Resampler plugins (kind FIVO_PLUGIN_RESAMPLER): from the N log weights of
 * one filter, N ancestor indices; or, for relaxed schemes, an N x N blend
 * matrix that carries gradients. Settings come from [resampler]. */
#ifndef FIVO_PLUGIN_RESAMPLER_H
#define FIVO_PLUGIN_RESAMPLER_H

#include <fivo/abi.h>
#include <fivo/config.h>
#include <fivo/rng.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_resampler_vtable {
    /* REQUIRED. Reads its settings; MUST NOT keep cfg; MUST set *self on
     * FIVO_OK, and on error free what it allocated and fill err. */
    fivo_status (*create)(const fivo_config *cfg, void **self, fivo_error *err);
    /* REQUIRED. MUST free everything create allocated. */
    void (*destroy)(void *self);
    /* log_w[0..n): unnormalised log weights (-inf allowed). Draws uniforms
     * only from `rng` at row `row` (fivo_rng_uniform_double), so results are
     * reproducible. Writes ancestors[0..n) in [0, n). All weights -inf, or
     * any NaN: FIVO_ERR_NUMERIC. Ancestors carry no gradient.
     * OPTIONAL for resamplers that provide one of the slots below (the
     * registry opens a resampler only with at least one of the four); the
     * engine uses the first it finds of resample_transport,
     * resample_relaxed, resample_weighted, resample. */
    fivo_status (*resample)(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err);
    /* OPTIONAL: differentiable resampling. log_w is an n x 1 tensor on the
     * tape; returns an n x n row-stochastic blend matrix A (new particle i =
     * sum_j A[i][j] * old particle j) whose gradient flows to log_w. */
    fivo_status (*resample_relaxed)(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                    const fivo_rng *rng, uint32_t row, fivo_tensor **blend,
                                    fivo_error *err);
    /* (2.0) OPTIONAL: hard ancestors with differentiable weights after the
     * step (stop-gradient, soft). log_w is the filter's n x 1 log weights on
     * the tape, lw the same values in double. MUST write ancestors[0..n) in
     * [0, n), drawing uniforms only from `rng` at `row`, and set *log_w_new
     * to an n x 1 tensor: the log weight of new particle i relative to the
     * filter's mean weight, which the engine adds to log Z-hat as for every
     * resampler (so a plain resampler would return zeros). The engine gathers
     * the state rows by the ancestors and restarts the filter's weights at
     * *log_w_new instead of 0. MUST NOT return +inf or NaN. */
    fivo_status (*resample_weighted)(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                     const double *lw, const fivo_rng *rng, uint32_t row,
                                     int32_t *ancestors, fivo_tensor **log_w_new,
                                     fivo_error *err);
    /* (2.0) OPTIONAL: blends that see the particles (optimal transport).
     * As resample_relaxed, plus `particles`: the filter's n rows of every
     * state tensor the model returned at this step, concatenated by columns
     * in state order (n x sum of the widths; on the tape, so a blend may
     * carry gradients to them). MUST return an n x n row-stochastic blend;
     * the weights restart at 0 as after any resampling. */
    fivo_status (*resample_transport)(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                      const fivo_tensor *particles, const fivo_rng *rng,
                                      uint32_t row, fivo_tensor **blend, fivo_error *err);
} fivo_resampler_vtable;

typedef struct fivo_resampler {
    FIVO_PLUGIN_INSTANCE_FIELDS(fivo_resampler_vtable);
} fivo_resampler;

#define FIVO_RESAMPLER_HAS(r, slot) \
    FIVO_VTABLE_HAS((r)->vt, (r)->vt_size, fivo_resampler_vtable, slot)

/* The resampler's slots (see fivo_model_set_observations for the rule). */
fivo_status fivo_resampler_resample(const fivo_resampler *r, const double *log_w, int n,
                                    const fivo_rng *rng, uint32_t row, int32_t *ancestors,
                                    fivo_error *err);
fivo_status fivo_resampler_resample_relaxed(const fivo_resampler *r, fivo_ctx *ctx,
                                            const fivo_tensor *log_w, const fivo_rng *rng,
                                            uint32_t row, fivo_tensor **blend, fivo_error *err);
fivo_status fivo_resampler_resample_weighted(const fivo_resampler *r, fivo_ctx *ctx,
                                             const fivo_tensor *log_w, const double *lw,
                                             const fivo_rng *rng, uint32_t row,
                                             int32_t *ancestors, fivo_tensor **log_w_new,
                                             fivo_error *err);
fivo_status fivo_resampler_resample_transport(const fivo_resampler *r, fivo_ctx *ctx,
                                              const fivo_tensor *log_w,
                                              const fivo_tensor *particles, const fivo_rng *rng,
                                              uint32_t row, fivo_tensor **blend,
                                              fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
