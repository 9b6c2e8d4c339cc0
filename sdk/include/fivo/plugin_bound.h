/* Bound plugins (kind FIVO_PLUGIN_BOUND): per-sequence log p-hat for a model
 * and batch, differentiable, plus diagnostics. Settings come from [bound]. */
#ifndef FIVO_PLUGIN_BOUND_H
#define FIVO_PLUGIN_BOUND_H

#include <fivo/abi.h>
#include <fivo/config.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/smc.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_BOUND_MAX_METRICS 4

/* (2.1) One diagnostic of train_loss: a sum over the batch's sequences. */
typedef struct fivo_bound_metric {
    const char *name;
    double sum;
} fivo_bound_metric;

typedef struct fivo_bound_vtable {
    /* REQUIRED. Reads [bound] settings; MUST NOT keep cfg; MUST set *self on
     * FIVO_OK, and on error free what it allocated and fill err. */
    fivo_status (*create)(const fivo_config *cfg, void **self, fivo_error *err);
    /* REQUIRED. MUST free everything create allocated. */
    void (*destroy)(void *self);
    /* REQUIRED. Runs the bound on `batch` with num_particles particles (the
     * host has not given the batch to the model: the bound calls the model's
     * set_observations itself) and
     * fills *out (arena memory of ctx). resampler may be NULL for bounds that
     * never resample. MUST NOT free or keep the model, resampler or batch;
     * MUST NOT draw randomness except through the ctx's RNG. */
    fivo_status (*compute)(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err);
    /* (2.0) OPTIONAL: called once by the host after the model is created and
     * before any checkpoint is restored or compute runs, for a bound with
     * parameters of its own (fivo-aux's tilt). MAY register parameters in
     * `params` (the model's store: they are trained, saved and restored with
     * the model's) under "<bound name>/..."; MAY keep `model->self` and the
     * registered tensors for later computes with that model; MUST NOT keep
     * spec. A bound bound to one model MUST refuse, in compute, another. */
    fivo_status (*bind)(void *self, const fivo_model *model, const fivo_data_spec *spec,
                        fivo_params *params, fivo_error *err);
    /* (2.1) OPTIONAL: a training loss of the bound's own beside -log p-hat
     * (fivo-aux-td's Bellman loss for its twist). The host calls it while
     * training only, right after a successful compute with the same ctx
     * and batch and before backward. It sets *loss to a B x 1 tensor on the
     * ctx's tape (per sequence, in batch order; arena memory), or NULL when
     * the bound has no loss for this batch. The host adds loss_b to
     * -log p-hat_b before weighting the sequence (1/B of the global batch,
     * and 1/L_b under normalize_by_seq_len), so one backward and one Adam
     * step train both. It fills metrics[0 .. *num_metrics) (at most
     * FIVO_BOUND_MAX_METRICS) with named sums over the batch's sequences of
     * per-sequence diagnostics; the host reports each as the train report's
     * key "<name>", the mean over sequences and over the report's window.
     * Names MUST be static strings of [a-z0-9_]. MUST NOT draw randomness. */
    fivo_status (*train_loss)(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                              fivo_tensor **loss, fivo_bound_metric *metrics,
                              int *num_metrics, fivo_error *err);
} fivo_bound_vtable;


typedef struct fivo_bound {
    FIVO_PLUGIN_INSTANCE_FIELDS(fivo_bound_vtable);
} fivo_bound;

/* create and destroy slots for a bound with no settings and no state (elbo,
 * iwae): *self is NULL. Header-only, so they cost libfivo no symbols. */
static inline fivo_status fivo_bound_stateless_create(const fivo_config *cfg, void **self,
                                                      fivo_error *err)
{
    (void)cfg;
    (void)err;
    *self = NULL;
    return FIVO_OK;
}

static inline void fivo_bound_stateless_destroy(void *self) { (void)self; }

#define FIVO_BOUND_HAS(b, slot) FIVO_VTABLE_HAS((b)->vt, (b)->vt_size, fivo_bound_vtable, slot)

/* The bound's optional bind slot: registers a bound's own parameters in
 * the model's store; FIVO_OK doing nothing when the bound has none. */
fivo_status fivo_bound_bind(const fivo_bound *b, const fivo_model *model, const fivo_data_spec *spec,
                            fivo_params *params, fivo_error *err);
/* The bound's optional train_loss slot: *loss NULL and *num_metrics 0,
 * FIVO_OK, when the bound has none. */
fivo_status fivo_bound_train_loss(const fivo_bound *b, fivo_ctx *ctx, const fivo_batch *batch,
                                  fivo_tensor **loss, fivo_bound_metric *metrics, int *num_metrics,
                                  fivo_error *err);
/* The bound's compute slot (see fivo_model_set_observations for the rule). */
fivo_status fivo_bound_compute(const fivo_bound *b, fivo_ctx *ctx, const fivo_model *model,
                               const fivo_resampler *resampler, const fivo_batch *batch,
                               int num_particles, fivo_smc_result *out, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
