/* Distributions over arena tensors. Log-probs are rows x 1 (summed over
 * columns), the form the SMC engine consumes. */
#ifndef FIVO_DIST_H
#define FIVO_DIST_H

#include <fivo/rng.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sigma = max(softplus(raw + raw_sigma_bias), sigma_min): the reference's
 * parameterisation of a Normal scale. */
fivo_tensor *fivo_normal_scale(fivo_ctx *ctx, const fivo_tensor *raw, float raw_sigma_bias,
                               float sigma_min);

/* Reparameterised sample mu + sigma * eps, eps from stream (purpose, t).
 * Gradients flow to mu and sigma. */
fivo_tensor *fivo_normal_sample(fivo_ctx *ctx, const fivo_tensor *mu, const fivo_tensor *sigma,
                                uint32_t purpose, uint32_t t);

/* The latent draw of a VRNN/SRNN step as one fused tape node (the
 * profile's hot spot: it replaces ~11 small ops). prior_out and
 * proposal_out are rows x 2Z head outputs [mean | raw scale]:
 *   p = Normal(P_mean, max(softplus(P_raw + raw_sigma_bias), sigma_min))
 *   q = Normal(Q_mean + P_mean, max(softplus(Q_raw + raw_sigma_bias), sigma_min))
 *       (res_q; q = p when proposal_out is NULL)
 *   z = q_mean + q_sigma * eps, eps = fivo_randn(ctx, purpose, t, rows, Z)
 * Returns z (rows x Z; the same bits as fivo_normal_sample on the unfused
 * heads). If log_ratio is given it receives rows x 1
 * sum_j log p(z_j) - log q(z_j) (zeros, no gradient, when q = p), with the
 * log q term taken at the noise, -eps^2/2 - log q_sigma (the same value;
 * its gradient is the total one, where the paths through z cancel). Terms
 * in float, row sums in double. Gradients reach prior_out and proposal_out
 * from both z and log_ratio. */
fivo_tensor *fivo_normal_res_q_sample(fivo_ctx *ctx, const fivo_tensor *prior_out,
                                      const fivo_tensor *proposal_out, float raw_sigma_bias,
                                      float sigma_min, uint32_t purpose, uint32_t t,
                                      fivo_tensor **log_ratio);

/* fivo_normal_log_prob and fivo_bernoulli_log_prob are in tensor.h (fused ops). */

/* {0,1} samples with P(1) = sigmoid(logits), stream (purpose, t). No gradient. */
fivo_tensor *fivo_bernoulli_sample(fivo_ctx *ctx, const fivo_tensor *logits, uint32_t purpose,
                                   uint32_t t);

/* Draws n indices from the categorical with unnormalised log weights
 * log_w[0..k) using the uniforms u[0..n) (inverse CDF, computed in double).
 * Entries of -inf have zero probability. Returns FIVO_ERR_NUMERIC when every
 * weight is -inf or any is NaN. */
fivo_status fivo_categorical_sample(const double *log_w, int k, const double *u, int n,
                                    int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
