/* Adam with TensorFlow's semantics and defaults (beta1 0.9, beta2 0.999,
 * epsilon 1e-8): lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr_t m / (sqrt(v) + eps).
 * Optional global-norm clipping (TF clip_by_global_norm) before the update. */
#ifndef FIVO_OPTIM_H
#define FIVO_OPTIM_H

#include <stdint.h>

#include <fivo/params.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_adam_options {
    double learning_rate; /* > 0, the caller's: no default here (the host's is the
                             [train] learning_rate row in host/flags.c) */
    double beta1, beta2, epsilon;
    double clip_global_norm; /* <= 0: no clipping */
} fivo_adam_options;

/* beta1, beta2, epsilon as above, no clipping, learning_rate 0 (set it). */
void fivo_adam_options_default(fivo_adam_options *o);

typedef struct fivo_adam fivo_adam;

/* Covers every parameter in p at creation time. NULL when out of memory,
 * or when o is NULL or its learning_rate is not > 0. */
fivo_adam *fivo_adam_new(fivo_params *p, const fivo_adam_options *o);
void fivo_adam_free(fivo_adam *a);

/* Applies one update from the gradients in p, then zeroes them. A NaN or
 * inf gradient returns FIVO_ERR_NUMERIC naming the parameter and leaves
 * parameters, moments and the step count untouched (the poisoned gradients
 * are zeroed so the next step starts clean). *global_norm (if given) is the norm
 * before clipping. */
fivo_status fivo_adam_step(fivo_adam *a, double *global_norm, fivo_error *err);

/* State for checkpoints: the update count and the moment buffers of the
 * i-th parameter (same index as fivo_params_at). which: 0 = m, 1 = v. */
uint64_t fivo_adam_get_step(const fivo_adam *a);
void fivo_adam_set_step(fivo_adam *a, uint64_t step);
float *fivo_adam_moment(fivo_adam *a, int param_index, int which);
void fivo_adam_set_learning_rate(fivo_adam *a, double lr);

/* The rate of update number `step` (0 for the first; Adam's update count
 * before the update, as TF's global_step) when it halves every decay_steps
 * updates, exponentially, not in stairs: lr * 0.5^(step / decay_steps), as
 * the reference's experimental trainer. decay_steps <= 0: lr unchanged. */
double fivo_lr_decay(double learning_rate, long decay_steps, uint64_t step);

#ifdef __cplusplus
}
#endif
#endif
