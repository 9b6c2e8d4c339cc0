/* A complete (if useless) model plugin: every v1 slot is present. */
#include <stdlib.h>

#include <fivo/abi.h>
#include <fivo/plugin_model.h>

#ifndef TP_VERSION
#define TP_VERSION "1.2.3"
#endif

static fivo_status tm_create(const fivo_config *cfg, const fivo_data_spec *spec,
                             fivo_params *params, void **self, fivo_error *err)
{
    (void)cfg, (void)spec, (void)params, (void)err;
    *self = calloc(1, 16);
    return *self != NULL ? FIVO_OK : FIVO_ERR_NOMEM;
}

static void tm_destroy(void *self)
{
    free(self);
}

static fivo_status tm_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                       int num_particles, fivo_error *err)
{
    (void)self, (void)ctx, (void)batch, (void)num_particles;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "test model");
}

static fivo_status tm_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                 fivo_error *err)
{
    (void)self, (void)ctx, (void)rows;
    out->count = 0;
    (void)err;
    return FIVO_OK;
}

static fivo_status tm_propose(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                              fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    (void)self, (void)ctx, (void)state, (void)t, (void)out, (void)log_weight;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "test model");
}

static const fivo_model_vtable vtable = {
    .create = tm_create,
    .destroy = tm_destroy,
    .set_observations = tm_set_observations,
    .zero_state = tm_zero_state,
    .propose_and_weight = tm_propose,
    .sample_step = NULL, /* optional, absent */
    .log_likelihood = NULL,
};

static const fivo_option options[] = {
    {"hidden_size", FIVO_OPTION_INT, "8", "width of nothing in particular", NULL, NULL, NULL},
    {"test_flavour", FIVO_OPTION_STRING, "plain", "a string option", NULL, NULL, NULL},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "test_model",
    .version = TP_VERSION,
    .description = "test model plugin",
    .vtable = &vtable,
    .vtable_size = sizeof vtable,
    FIVO_PLUGIN_OPTIONS(options),
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
