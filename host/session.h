/* A session: everything one run of a mode opens from the config — the
 * dataset split, the model with its parameter store, the bound, the
 * resampler and the tensor context — so train, eval and sample share one
 * way of wiring plugins together. */
#ifndef FIVO_HOST_SESSION_H
#define FIVO_HOST_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/eval_loop.h>
#include <fivo/train_step.h>

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
    fivo_data_spec spec;    /* what the model was created for (bounds bind to it) */
    fivo_model model;
    fivo_bound bound;
    fivo_resampler resampler;
    fivo_ctx *ctx;
    bool opened_dataset, opened_model, opened_bound, opened_resampler;
} fivo_session;

/* A replica of the session's model, bound and resampler with its own
 * parameter store and tensor context, for computing shards on other
 * threads: its parameters are registered in the same order as the
 * session's (checked), and the caller copies the session's values into them
 * before each use. Its context runs on one thread. */
typedef struct fivo_replica {
    fivo_params *params;
    fivo_model model;
    fivo_bound bound;
    fivo_resampler resampler;
    fivo_ctx *ctx;
    bool opened_model, opened_bound, opened_resampler;
} fivo_replica;

fivo_status fivo_replica_open(const fivo_session *s, fivo_replica *r, fivo_error *err);
void fivo_replica_close(fivo_replica *r);

/* The training step's setup over the session: its own objects for thread
 * 0, fivo_replica_open for the other shard threads. */
fivo_train_setup fivo_session_train_setup(fivo_session *s, bool normalize, int shards,
                                          int threads);

/* Opens everything for `split`. On failure prints the reason (naming the
 * plugin, key or file), closes what was opened and returns the exit code
 * (1: the mode failed, 2: bad config); returns 0 on success. */
int fivo_session_open(fivo_session *s, fivo_host *h, const char *split);
void fivo_session_close(fivo_session *s);

/* Opens another split of the session's dataset (for periodic evaluation). */
int fivo_session_open_split(fivo_session *s, const char *split, fivo_dataset *out,
                            fivo_dataset_info *info);

/* Names the plugins of the run in `r` ("model", "bound", "resampler",
 * "dataset"), so every train and eval line says which were used. */
void fivo_session_describe(const fivo_session *s, fivo_report *r);

/* True when the model computes its exact log-likelihood (the GHMM). */
bool fivo_session_has_exact(const fivo_session *s);

/* Opens bound plugin `name` as --mode=eval runs it (fivo_host_bound_config:
 * [bound] for the trained bound, [bound.NAME] for another) and binds it to
 * the model (a bound's own parameters join the store: open every bound
 * before restoring a checkpoint). */
fivo_status fivo_session_open_bound(fivo_session *s, const char *name, fivo_bound *out,
                                    fivo_error *err);

/* The eval pass's objects (fivo/eval_loop.h): the session's model,
 * resampler, context, seed, batch size and particles. */
fivo_eval_setup fivo_session_eval_setup(fivo_session *s);

/* The pass's diagnostics in `r`, as the reference's ghmm eval reports them:
 * bound per timestep (mean and std over sequences), exact log-likelihood
 * per timestep and gap when the model has it, average log-weight variance
 * and resampling rate, with the plugins, proposal and particle count. */
fivo_status fivo_session_report_stats(fivo_session *s, const fivo_eval_stats *a, fivo_report *r,
                                      fivo_error *err);

/* fivo_eval_pass with the session's (trained) bound, then
 * fivo_session_report_stats. */
fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err);

#endif
