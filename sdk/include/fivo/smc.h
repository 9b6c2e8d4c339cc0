/* The SMC engine shared by every bound: particle-major rows, per-filter log
 * weights, resampling criteria, log Z-hat accounting, masking past each
 * sequence's end. ELBO is IWAE with one particle; IWAE is FIVO that never
 * resamples. */
#ifndef FIVO_SMC_H
#define FIVO_SMC_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_criterion {
    FIVO_RESAMPLE_NEVER = 0,
    FIVO_RESAMPLE_ALWAYS = 1,
    FIVO_RESAMPLE_ESS = 2 /* resample when ESS <= threshold * N */
} fivo_criterion;

/* Most rows (particles x sequences) one filter runs: the engine refuses
 * more, and the host refuses a batch_size x num_samples above it up front. */
#define FIVO_SMC_MAX_ROWS (INT32_MAX / 2)

typedef struct fivo_smc_options {
    int num_particles;
    fivo_criterion criterion;
    double ess_threshold;               /* in [0, 1] (the bound's row default: 0.5) */
    const fivo_resampler *resampler;    /* required unless criterion is NEVER */
    size_t struct_size;                 /* (2.2) sizeof as the caller was built, or 0
                                           (fivo/abi.h, "Growing structs") */
} fivo_smc_options;

typedef struct fivo_smc_result {
    fivo_tensor *log_phat;     /* B x 1, on the tape: per-sequence log p-hat */
    int max_len, batch_size, num_particles;
    float *log_weights;        /* [T, N * B] accumulated log weights after step t, before resampling (arena) */
    uint8_t *resampled;        /* [T, B]: 1 where filter b resampled after step t (arena) */
    double resample_rate;      /* resampling steps / valid steps, over the batch */
    double log_weight_var;     /* mean over valid (t, b) of the variance of the normalised log weights */
    fivo_state final_state;    /* the particles after the last step (for sampling) */
    fivo_tensor *final_log_weights; /* (N * B) x 1 at the end */
} fivo_smc_result;

/* Calls model->set_observations, then steps t = 0..T-1. Random numbers:
 * proposal noise from the model, resampling uniforms from
 * fivo_ctx_rng(ctx, FIVO_RNG_RESAMPLE, t) at row key of the sequence. When
 * batch->seq_ids is set, row keys are seq_id * N + particle so a sequence gets
 * the same numbers in any batch. A filter whose weights are all -inf or NaN is
 * FIVO_ERR_NUMERIC naming the step and sequence. Without gradients
 * (eval, sampling) the memory of finished steps is released whenever it
 * passes half the memory budget (8 MB without one; every segment_steps
 * steps when that is set), keeping only the carried state, so memory does
 * not grow with T beyond what set_observations makes; tensors a model made
 * in an earlier step are then gone (the result's are kept). */
fivo_status fivo_smc_run(fivo_ctx *ctx, const fivo_model *model, const fivo_batch *batch,
                         const fivo_smc_options *opts, fivo_smc_result *out, fivo_error *err);

/* With a memory budget (fivo_ctx_set_memory_budget): runs the bound on a
 * two-step batch of zeros of batch_size sequences on a scratch context and
 * refuses a budget too small for one step, naming the figure it needs (for
 * the host to check before training). FIVO_OK when budget is 0. */
struct fivo_bound;
fivo_status fivo_smc_check_budget(const struct fivo_bound *bound, const fivo_model *model,
                                  const fivo_resampler *resampler, int batch_size, int dim,
                                  int num_particles, size_t budget, fivo_error *err);

/* Parses "ess" | "always" | "never". */
fivo_status fivo_criterion_parse(const char *text, fivo_criterion *out, fivo_error *err);

/* The [bound] option rows of a bound that resamples (fivo, fivo-aux), for
 * its descriptor's option array: resampling_criterion, ess_threshold. */
#define FIVO_SMC_CRITERION_OPTIONS                                                               \
    {"resampling_criterion", FIVO_OPTION_STRING, "ess",                                          \
     "when to resample: ess (ESS <= ess_threshold * N), always, never", "ess|always|never", NULL, \
     NULL},                                                                                        \
        {"ess_threshold", FIVO_OPTION_DOUBLE, "0.5",                                             \
         "fraction of N below which the ESS resamples", NULL, "0", "1"}

/* Reads and checks those two keys of [bound] through `rows` (the bound's
 * option array, which holds FIVO_SMC_CRITERION_OPTIONS; their defaults also
 * with cfg NULL). Errors name the key and the value. */
fivo_status fivo_smc_criterion_read(const fivo_config *cfg, const fivo_option *rows, size_t n,
                                    fivo_criterion *criterion, double *ess_threshold,
                                    fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
