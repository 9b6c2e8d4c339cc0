/* A session: everything one run of a mode opens from the config — the
 * dataset split, the model with its parameter store, the bound, the
 * resampler and the tensor context — so train, eval and sample share one
 * way of wiring plugins together. */
#ifndef FIVO_HOST_SESSION_H
#define FIVO_HOST_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "modes.h"

typedef struct fivo_session {
    fivo_host *host;
    uint64_t seed;          /* [fivo] random_seed */
    int batch_size;         /* [fivo] batch_size */
    int num_samples;        /* [fivo] num_samples */
    const char *split;      /* the split the dataset was opened on */
    const char *model_name, *bound_name, *resampler_name, *dataset_name, *dataset_path;
    fivo_params *params;
    fivo_dataset dataset;
    fivo_dataset_info info;
    fivo_model model;
    fivo_bound bound;
    fivo_resampler resampler;
    fivo_ctx *ctx;
    bool opened_dataset, opened_model, opened_bound, opened_resampler;
} fivo_session;

/* Opens everything for `split`. On failure prints the reason (naming the
 * plugin, key or file), closes what was opened and returns the exit code
 * (1: the mode failed, 2: bad config); returns 0 on success. */
int fivo_session_open(fivo_session *s, fivo_host *h, const char *split);
void fivo_session_close(fivo_session *s);

/* Opens another split of the session's dataset (for periodic evaluation). */
int fivo_session_open_split(fivo_session *s, const char *split, fivo_dataset *out,
                            fivo_dataset_info *info);

/* Runs the bound on `batch` in the session's ctx (not reset here). */
fivo_status fivo_session_bound(fivo_session *s, const fivo_batch *batch, fivo_smc_result *out,
                               fivo_error *err);

/* Names the plugins of the run in `r` ("model", "bound", "resampler",
 * "dataset"), so every train and eval line says which were used. */
void fivo_session_describe(const fivo_session *s, fivo_report *r);

/* True when the model computes its exact log-likelihood (the GHMM). */
bool fivo_session_has_exact(const fivo_session *s);

/* One pass over `ds` (batches in order, no gradients): bound per timestep
 * (mean and std over sequences), exact log-likelihood per timestep and gap
 * when the model has it, average log-weight variance and resampling rate,
 * written into `r` with the bound, proposal, resampler and particle count. */
fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err);

/* Sums of per-sequence log p-hat over a whole split. */
typedef struct fivo_eval_sums {
    double ll;          /* sum over sequences of log p-hat */
    int64_t timesteps;  /* sum of lengths */
    int64_t sequences;
} fivo_eval_sums;

/* One pass of the SMC engine with `opts` (not the bound plugin) over `ds`
 * in order, without gradients: the reference's eval of ELBO, IWAE and FIVO. */
fivo_status fivo_session_eval_sums(fivo_session *s, fivo_dataset *ds,
                                   const fivo_smc_options *opts, fivo_eval_sums *out,
                                   fivo_error *err);

#endif
