/* The "fivo.ext.tilt" model extension: what a tilted bound (fivo-aux, fivo-aux-td) needs
 * from a recurrent model to evaluate a learned tilting function
 * r(x_{t+1} | h_t, z_t) on its particles (the reference's use_tilt,
 * models/vrnn.py and models/srnn.py). A model offers it through its
 * descriptor's extension_data(FIVO_EXT_TILT_URI); a bound finds it through
 * the model instance (fivo_model.extension_data).
 *
 * The bound owns the tilt (its parameters and its network); the model only
 * says which state rows are its inputs and what kind of data it emits.
 *
 * Versions: the extension grows like a vtable, fields only at the end, each
 * with the ABI version that added it; a bound reads a slot only when the
 * model's `size` covers it. 2.0: describe, features. 2.1: latent_size and
 * step_terms, what fivo-aux-td's Gaussian twist over
 * z_{t+1} needs; fivo-aux does not use them, so a 2.0 model keeps working
 * there, and fivo-aux-td refuses it naming the model and the slot.
 * 2.2: future_size and future, the summary of the observations still to
 * come that sixo's density-ratio twist r_t(z_t, x_{t+1:T}) reads; a model
 * without them works with the other bounds, and sixo refuses it naming the
 * model and the slot. */
#ifndef FIVO_EXT_TILT_H
#define FIVO_EXT_TILT_H

#include <stdbool.h>
#include <stddef.h>

#include <fivo/error.h>
#include <fivo/layers.h>
#include <fivo/plugin_model.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_EXT_TILT_URI "fivo.ext.tilt"

typedef struct fivo_tilt_spec {
    int h_size;   /* width of the deterministic feature (the RNN output h_t) */
    int lat_size; /* width of the encoded latent z_t */
    int num_hidden;                  /* hidden layers for the tilt's MLP (the model's own) */
    int hidden[FIVO_MLP_MAX_LAYERS];
    bool binary;                     /* Bernoulli data (else Normal) */
    float normal_raw_sigma_bias;     /* Normal data: the emission's raw scale bias */
} fivo_tilt_spec; /* filled by the model: it never grows (a 2.0 bound's copy is this size) */

/* (2.1) What a step's state holds for a twist over the next latent (the
 * reference's fivo_aux_td): tensors of the state's rows, on the tape.
 * Filled by the model into the bound's copy, so it never grows. */
typedef struct fivo_tilt_step {
    const fivo_tensor *z;          /* rows x latent_size: the latent z_t drawn at step t */
    const fivo_tensor *log_px;     /* rows x 1: log p(x_t | z_t, history), the emission's term */
    const fivo_tensor *next_mu;    /* rows x latent_size: mean of the prior p(z_{t+1} | state) */
    const fivo_tensor *next_sigma; /* rows x latent_size: its standard deviation (> 0) */
} fivo_tilt_step;

typedef struct fivo_ext_tilt {
    size_t size; /* sizeof(fivo_ext_tilt) as the model saw it: fields only grow */
    /* MUST fill *out for a created model instance. */
    void (*describe)(const void *model_self, fivo_tilt_spec *out);
    /* The tilt's inputs for the state that propose_and_weight returned at
     * step t (of the batch last given to set_observations, possibly
     * resampled since): rows x h_size and rows x lat_size tensors on the
     * tape, carrying the gradients of h_t and encoded z_t (state tensors, or
     * new ones in ctx). FIVO_ERR_INVALID for a state of another shape. */
    fivo_status (*features)(const void *model_self, fivo_ctx *ctx, const fivo_state *state, int t,
                            const fivo_tensor **h, const fivo_tensor **lat, fivo_error *err);
    /* (2.1) OPTIONAL (fivo-aux-td requires it, with step_terms): the width
     * of the latent z_t, > 0, for a created model instance. */
    int (*latent_size)(const void *model_self);
    /* (2.1) OPTIONAL (fivo-aux-td requires it). Called right after the
     * model's propose_and_weight at step t, on the state it returned (not
     * resampled yet): fills *out with z_t and log p(x_t | ...) as that call
     * drew and weighed them (the model keeps them from its last call), and, when
     * t + 1 < the batch's max length, the prior of z_{t+1} given that state
     * (next_mu, next_sigma; both NULL at the last step). MAY compute the
     * next prior (e.g. one more RNN step) in ctx. FIVO_ERR_INVALID for a
     * state of another shape or a step outside the batch. */
    fivo_status (*step_terms)(const void *model_self, fivo_ctx *ctx, const fivo_state *state, int t,
                              fivo_tilt_step *out, fivo_error *err);
    /* (2.2) OPTIONAL (sixo requires it, with future): the width F of the
     * future summary for a created model instance; 0 when this
     * configuration has none (e.g. a vrnn without the smoothing proposal). */
    int (*future_size)(const void *model_self);
    /* (2.2) OPTIONAL (sixo requires it). For the batch last given to
     * set_observations and a step t with t + 1 < its max length: *out =
     * rows x F (row p * B + b, the same for every particle p), a summary of
     * sequence b's observations after step t, x_{t+1 .. len_b - 1} (what
     * the model has not seen yet; e.g. a reverse RNN's output at t + 1).
     * Rows whose sequence ends at or before t + 1 hold any finite value.
     * On the tape (it may carry the model's gradient) or new in ctx.
     * FIVO_ERR_INVALID for a step outside the batch. */
    fivo_status (*future)(const void *model_self, fivo_ctx *ctx, int t, const fivo_tensor **out,
                          fivo_error *err);
} fivo_ext_tilt;

/* The model's tilt extension, or NULL when it offers none. */
static inline const fivo_ext_tilt *fivo_model_ext_tilt(const fivo_model *m)
{
    if (m == NULL || m->extension_data == NULL)
        return NULL;
    const fivo_ext_tilt *e = (const fivo_ext_tilt *)m->extension_data(FIVO_EXT_TILT_URI);
    if (e == NULL || e->size < offsetof(fivo_ext_tilt, features) + sizeof e->features ||
        e->describe == NULL || e->features == NULL)
        return NULL;
    return e;
}

/* True when the model's extension has the (2.1) slots latent_size and
 * step_terms. */
static inline bool fivo_ext_tilt_has_step_terms(const fivo_ext_tilt *e)
{
    return e != NULL && e->size >= offsetof(fivo_ext_tilt, step_terms) + sizeof e->step_terms &&
           e->latent_size != NULL && e->step_terms != NULL;
}

/* True when the model's extension has the (2.2) slots future_size and
 * future. */
static inline bool fivo_ext_tilt_has_future(const fivo_ext_tilt *e)
{
    return e != NULL && e->size >= offsetof(fivo_ext_tilt, future) + sizeof e->future &&
           e->future_size != NULL && e->future != NULL;
}

#ifdef __cplusplus
}
#endif
#endif
