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
