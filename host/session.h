/* What train, eval and sample share: the dataset, model, bound and
 * resampler a config names, the parameter store, and evaluation of bounds
 * over a whole split. */
#ifndef FIVO_HOST_SESSION_H
#define FIVO_HOST_SESSION_H

#include "modes.h"

typedef struct fivo_session {
    fivo_dataset data;
    fivo_dataset_info info;
    fivo_data_spec spec;
    fivo_params *params;
    fivo_model model;
    fivo_bound bound;
    fivo_resampler resampler;
    int have_data, have_model, have_bound, have_resampler;
    uint64_t seed;
    int batch_size, num_samples;
} fivo_session;

/* Opens [dataset] split `split` and the model (parameters seeded by
 * [fivo] random_seed), and the bound and resampler when with_bound. Prints
 * the error and returns non-zero on failure (s is then closed). */
int fivo_session_open(fivo_host *h, fivo_session *s, const char *split, int with_bound);
void fivo_session_close(fivo_session *s);

/* Sums of per-sequence log p-hat over a whole split. */
typedef struct fivo_eval_sums {
    double ll;          /* sum over sequences of log p-hat */
    int64_t timesteps;  /* sum of lengths */
    int64_t sequences;
} fivo_eval_sums;

/* Runs the SMC engine with opts over every batch of `data` in file order
 * (batch i seeded by (seed, i)), without gradients. */
fivo_status fivo_session_eval_split(fivo_session *s, fivo_dataset *data, fivo_ctx *ctx,
                                    const fivo_smc_options *opts, fivo_eval_sums *out,
                                    fivo_error *err);

/* The same with the session's bound plugin and num_samples particles. */
fivo_status fivo_session_eval_bound(fivo_session *s, fivo_dataset *data, fivo_ctx *ctx,
                                    fivo_eval_sums *out, fivo_error *err);

#endif
