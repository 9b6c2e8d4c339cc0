/* The "fivo.ext.tilt" model extension: what a tilted bound (fivo-aux) needs
 * from a recurrent model to evaluate a learned tilting function
 * r(x_{t+1} | h_t, z_t) on its particles (the reference's use_tilt,
 * models/vrnn.py and models/srnn.py). A model offers it through its
 * descriptor's extension_data(FIVO_EXT_TILT_URI); a bound finds it through
 * the model instance (fivo_model.extension_data).
 *
 * The bound owns the tilt (its parameters and its network); the model only
 * says which state rows are its inputs and what kind of data it emits. */
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
} fivo_tilt_spec;

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

#ifdef __cplusplus
}
#endif
#endif
