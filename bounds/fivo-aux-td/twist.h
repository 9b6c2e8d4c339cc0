/* The Gaussian twist of fivo-aux-td and its temporal-difference (Bellman)
 * loss, the reference's fivo_aux_td (research/fivo/fivo/bounds.py).
 *
 * The twist is an unnormalised Gaussian over the next latent,
 *     r~(z) = exp(-1/2 sum_j prec_j (z_j - mu_j)^2),
 * parameterised by its mean and precision (prec >= 0; prec = 0 is flat, so
 * a twist that starts near 0 starts as plain FIVO). Its value for a
 * particle is its expectation under the model's next prior,
 *     log r = log E_{z ~ N(mu_p, s_p)} r~(z)
 *           = -1/2 sum_j [log(1 + prec_j s_j) + prec_j (mu_j - mu_p_j)^2 / (1 + prec_j s_j)],
 * s = sigma_p^2: the reference's 1/2 [log s~ - log(s~ + s_p) - (mu~ - mu_p)^2 / (s~ + s_p)]
 * with s~ = 1 / prec (a precision needs no division on the tape).
 *
 * Bellman loss at step t (the reference, per filter b, mean over its N
 * particles p, summed over the valid steps t >= 1):
 *     e_p    = log r~_{t-1}(z_t) - sg(lambda_b + log p(x_t | z_t) + log r_t)
 *     lambda_b = mean_p [log r~_{t-1}(z_t) - log p(x_t | z_t) - log r_t]
 * lambda absorbs r~'s missing normaliser; only log r~_{t-1} carries a
 * gradient (to the twist that produced mu, prec at step t - 1). */
#ifndef FIVO_AUX_TD_TWIST_H
#define FIVO_AUX_TD_TWIST_H

#include <stdint.h>

#include <fivo/fivo.h>

#ifdef __cplusplus
extern "C" {
#endif

/* log r of one particle (double accumulation), from float rows of width Z. */
double fivo_auxtd_log_r(const float *mu, const float *prec, const float *mu_p,
                        const float *sigma_p, int Z);

/* rows x 1 on the tape: log r~(z) = -1/2 sum_j prec_j (z_j - mu_j)^2, z
 * without gradient (the reference's stop_gradient(z_t)). */
fivo_tensor *fivo_auxtd_log_r_tilde(fivo_ctx *ctx, const fivo_tensor *z, const fivo_tensor *mu,
                                    const fivo_tensor *prec);

/* The stopped targets lambda_b + lpx_r + log_r_r of rows = N * B particles
 * (row p * B + b), from the values of log r~_{t-1}(z_t), log p(x_t | z_t)
 * and log r_t: out[rows]. */
void fivo_auxtd_td_targets(const float *log_r_tilde, const float *lpx, const float *log_r, int N,
                           int B, float *out);

/* B x 1 on the tape: per filter b, (1/N) sum_p keep_b (lrt_r - target_r)^2,
 * keep_b in {0, 1} (the step is valid and not the first). */
fivo_tensor *fivo_auxtd_bellman(fivo_ctx *ctx, const fivo_tensor *log_r_tilde,
                                const float *target, const uint8_t *keep, int N, int B);

#ifdef __cplusplus
}
#endif
#endif
