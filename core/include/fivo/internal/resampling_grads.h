/* Resampling gradients by REINFORCE (the reference's use_resampling_grads,
 * research/fivo/experimental/bounds.py): the score term of the ancestor
 * draws, which plain FIVO drops.
 *
 * The gradient of E[log p-hat] has, beside the reparameterised part the
 * tape already gives, sum_t E[R_t d log q(a_t)], where a_t are the ancestors
 * drawn at resampling step t, log q(a_t) = sum_i log wbar_t[a_t,i] their
 * categorical log-probability under the normalised weights (on the tape),
 * and R_t the reward: the log p-hat increments after step t (the draw at t
 * changes only those). A baseline b_t, fixed before the batch is drawn,
 * keeps it unbiased and lowers its variance: the surrogate per sequence is
 *     score = sum_t stop_gradient(R_t - b_t) * log q(a_t)
 * and the loss gains -score. The draw at a sequence's last step is left
 * out (nothing comes after it: its expected term is 0).
 *
 * Exact for resamplers whose N ancestors are independent categorical draws
 * (multinomial). For systematic, stratified and residual the ancestors are
 * not independent and the categorical score is the reference's
 * approximation (biased). Blends (relaxed, soft, optimal-transport) and
 * resamplers that reweight (stop-gradient) are refused: they have no hard
 * categorical draw, or carry the resampling gradient another way.
 *
 * Use: wrap the resampler (fivo_resampling_grads_resampler), run the bound
 * with the wrapper on a context that keeps the whole tape (no memory
 * budget: the recorded log q live across the loop), then
 * fivo_resampling_grads_finish. The wrapper draws exactly what the inner
 * resampler draws (same uniforms, same ancestors, same log p-hat). */
#ifndef FIVO_RESAMPLING_GRADS_H
#define FIVO_RESAMPLING_GRADS_H

#include <fivo/abi.h>
#include <fivo/plugin_resampler.h>
#include <fivo/smc.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The reference's baseline decay (tf.train.ExponentialMovingAverage(0.94)). */
#define FIVO_RESAMPLING_GRADS_DECAY 0.94

typedef struct fivo_resampling_grads fivo_resampling_grads;

/* FIVO_OK when `inner` draws hard ancestors through its resample slot and
 * has no blending or reweighting slot; else FIVO_ERR_INVALID naming it. */
fivo_status fivo_resampling_grads_check(const fivo_resampler *inner, fivo_error *err);

/* A recorder around `inner` (kept, not owned). NULL with err on a refused
 * resampler or out of memory. */
fivo_resampling_grads *fivo_resampling_grads_new(const fivo_resampler *inner, fivo_error *err);
void fivo_resampling_grads_free(fivo_resampling_grads *g);

/* The resampler to hand the bound for one compute (forgets the last
 * compute's record). Valid while g lives. */
const fivo_resampler *fivo_resampling_grads_resampler(fivo_resampling_grads *g);

/* After a successful compute with the wrapper on ctx: *score, a B x 1
 * tensor on the tape (the surrogate above), and rewards[b * ld + t] = R_t
 * of sequence b where it drew ancestors at step t before its last step,
 * NaN elsewhere (t < ld, res->max_len <= ld; rewards may be NULL). baseline[t]
 * for t < baseline_len is b_t (0 beyond; baseline may be NULL). */
fivo_status fivo_resampling_grads_finish(fivo_resampling_grads *g, fivo_ctx *ctx,
                                         const fivo_batch *batch, const fivo_smc_result *res,
                                         const float *baseline, int baseline_len,
                                         fivo_tensor **score, double *rewards, int ld,
                                         fivo_error *err);

/* The moving average over steps: for each t < len with a reward in some
 * sequence (rewards as above, B sequences, leading dimension ld >= len),
 * baseline[t] = decay * baseline[t] + (1 - decay) * (mean reward at t). The
 * mean runs over sequences in order, so the result does not depend on how
 * the batch was cut into shards. */
void fivo_resampling_grads_update_baseline(float *baseline, int len, const double *rewards,
                                           int B, int ld, double decay);

#ifdef __cplusplus
}
#endif
#endif
