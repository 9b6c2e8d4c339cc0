/* A model plugin as it would have been built for an older minor ABI: its
 * vtable is today's fivo_model_vtable cut before sample_step (those slots
 * did not exist yet). The bytes after the declared vtable hold non-NULL junk
 * so a host that ignored vtable_size would see the optional slots as set. */
#include <fivo/fivo.h>

#include <stdlib.h>

/* The vtable layout of the "older" minor: a prefix of today's. */
typedef struct old_model_vtable {
    fivo_status (*create)(const fivo_config *, const fivo_data_spec *, fivo_params *, void **,
                          fivo_error *);
    void (*destroy)(void *);
    fivo_status (*set_observations)(void *, fivo_ctx *, const fivo_batch *, int, fivo_error *);
    fivo_status (*zero_state)(void *, fivo_ctx *, int, fivo_state *, fivo_error *);
    fivo_status (*propose_and_weight)(void *, fivo_ctx *, const fivo_state *, int, fivo_state *,
                                      fivo_tensor **, fivo_error *);
} old_model_vtable;

static const int junk_target = 1;

static fivo_status old_create(const fivo_config *cfg, const fivo_data_spec *spec,
                              fivo_params *params, void **self, fivo_error *err)
{
    (void)cfg, (void)spec, (void)params, (void)err;
    *self = malloc(16);
    return *self != NULL ? FIVO_OK : FIVO_ERR_NOMEM;
}

static void old_destroy(void *self)
{
    free(self);
}

static fivo_status old_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                        int n, fivo_error *err)
{
    (void)self, (void)ctx, (void)batch, (void)n, (void)err;
    return FIVO_OK;
}

static fivo_status old_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                  fivo_error *err)
{
    (void)self, (void)ctx, (void)rows, (void)err;
    out->count = 0;
    return FIVO_OK;
}

static fivo_status old_propose(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                               fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    (void)self, (void)ctx, (void)state, (void)t, (void)out, (void)log_weight;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "abi_old_minor: not a real model");
}

static const struct {
    old_model_vtable vt;
    const void *junk[4]; /* what a size-blind host would read as sample_step, log_likelihood */
} old_vtable = {
    {old_create, old_destroy, old_set_observations, old_zero_state, old_propose},
    {&junk_target, &junk_target, &junk_target, &junk_target},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = 0,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "abi_old_minor",
    .version = "0.0.1",
    .description = "test: model built for ABI minor 0 with a vtable ending at propose_and_weight",
    .vtable = &old_vtable.vt,
    .vtable_size = sizeof(old_model_vtable),
    .options = NULL,
    .num_options = 0,
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
