/* Model plugins (kind FIVO_PLUGIN_MODEL): a sequential latent-variable model
 * stepped by the SMC engine. Settings come from the [model] config section.
 *
 * The state is a list of row-major tensors with one row per particle
 * (row = particle * B + sequence), so the engine resamples any model by
 * gathering rows of every state tensor. */
#ifndef FIVO_PLUGIN_MODEL_H
#define FIVO_PLUGIN_MODEL_H

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/params.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_STATE_MAX 8

typedef struct fivo_state {
    int count;
    fivo_tensor *t[FIVO_STATE_MAX]; /* each has the same number of rows */
} fivo_state;

typedef struct fivo_model_vtable {
    /* Creates the model for data described by `spec`, registering every
     * parameter in `params` under "<model name>/..." and resolving the
     * pointers it needs once. MUST NOT keep cfg or spec pointers. MUST set
     * *self on FIVO_OK; on error MUST free what it allocated and fill err.
     * REQUIRED. The registry refuses at load a vtable that does not reach
     * destroy, and opens a model only with create, destroy,
     * set_observations, zero_state and propose_and_weight all set. */
    fivo_status (*create)(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                          void **self, fivo_error *err);
    /* MUST free everything create allocated (not the params it registered:
     * the store owns those). REQUIRED. */
    void (*destroy)(void *self);
    /* REQUIRED. Once per batch, in a freshly reset ctx: takes the batch, tiled by
     * num_particles (row = p * B + b), and precomputes whatever is shared by
     * all steps (encoded targets, a backward RNN for smoothing proposals) in
     * ctx. The batch stays valid until ctx is reset. */
    fivo_status (*set_observations)(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                    int num_particles, fivo_error *err);
    /* REQUIRED. The initial state for `rows` rows (rows = num_particles * B). */
    fivo_status (*zero_state)(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                              fivo_error *err);
    /* REQUIRED. Step t: samples z_t from the proposal (noise from fivo_randn(ctx,
     * FIVO_RNG_PROPOSAL, t, ...)), returns the new state and the incremental
     * log weight log p(x_t, z_t | past) - log q(z_t | ...) as a rows x 1
     * tensor. MUST NOT modify `state`'s tensors in place. Rows past a
     * sequence's end may hold anything finite; the engine masks them. */
    fivo_status (*propose_and_weight)(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                      fivo_state *out, fivo_tensor **log_weight, fivo_error *err);
    /* OPTIONAL: one generative step from the prior: samples z_t and x_t
     * (returned as rows x D), feeding x_t back as the next input. `state` is a
     * state reached by propose_and_weight (the end of a prefix) or zero_state. */
    fivo_status (*sample_step)(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                               fivo_state *out, fivo_tensor **x, fivo_error *err);
    /* OPTIONAL: exact log p(x) per sequence (B doubles), for models that have
     * one (the Gaussian HMM). */
    fivo_status (*log_likelihood)(void *self, const fivo_batch *batch, double *out,
                                  fivo_error *err);
    /* (2.3) OPTIONAL: set_observations for a batch the engine will cut into
     * segments (see fivo/smc.h): takes the batch as set_observations does
     * but precomputes nothing for all steps at once; propose_and_weight(t)
     * computes step t's share of the observations itself, so what training
     * keeps is bounded by the state, not by T. The values MUST equal
     * set_observations' up to float rounding. FIVO_ERR_UNSUPPORTED, having
     * changed nothing, when this configuration needs the whole batch at
     * once (e.g. a reverse RNN over the future observations): the engine
     * then calls set_observations. */
    fivo_status (*set_observations_stepwise)(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                             int num_particles, fivo_error *err);
} fivo_model_vtable;

/* A loaded model instance. */
/* An opened model; through extension_data a bound asks the model instance
 * for an extension, e.g. fivo.ext.tilt. */
typedef struct fivo_model {
    FIVO_PLUGIN_INSTANCE_FIELDS(fivo_model_vtable);
} fivo_model;

#define FIVO_MODEL_HAS(m, slot) FIVO_VTABLE_HAS((m)->vt, (m)->vt_size, fivo_model_vtable, slot)

/* Calls through a model's slots (the SMC engine, bounds and the host use
 * these, never ->vt-> directly): a required slot is checked when the model
 * is opened; an absent optional one is FIVO_ERR_UNSUPPORTED naming the
 * model and slot. */
fivo_status fivo_model_set_observations(const fivo_model *m, fivo_ctx *ctx, const fivo_batch *batch,
                                        int num_particles, fivo_error *err);
fivo_status fivo_model_zero_state(const fivo_model *m, fivo_ctx *ctx, int rows, fivo_state *out,
                                  fivo_error *err);
fivo_status fivo_model_propose_and_weight(const fivo_model *m, fivo_ctx *ctx,
                                          const fivo_state *state, int t, fivo_state *out,
                                          fivo_tensor **log_weight, fivo_error *err);
fivo_status fivo_model_sample_step(const fivo_model *m, fivo_ctx *ctx, const fivo_state *state,
                                   int t, fivo_state *out, fivo_tensor **x, fivo_error *err);
fivo_status fivo_model_log_likelihood(const fivo_model *m, const fivo_batch *batch, double *out,
                                      fivo_error *err);
fivo_status fivo_model_set_observations_stepwise(const fivo_model *m, fivo_ctx *ctx,
                                                 const fivo_batch *batch, int num_particles,
                                                 fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
