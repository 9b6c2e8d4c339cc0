/* A complete bound plugin for registry tests. */
#include <stdlib.h>

#include <fivo/abi.h>
#include <fivo/plugin_bound.h>

static fivo_status tb_create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg, (void)err;
    *self = calloc(1, 8);
    return *self != NULL ? FIVO_OK : FIVO_ERR_NOMEM;
}

static void tb_destroy(void *self)
{
    free(self);
}

static fivo_status tb_compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                              const fivo_resampler *resampler, const fivo_batch *batch,
                              int num_particles, fivo_smc_result *out, fivo_error *err)
{
    (void)self, (void)ctx, (void)model, (void)resampler, (void)batch, (void)num_particles;
    (void)out;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "test bound");
}

static const fivo_bound_vtable vtable = {
    .create = tb_create, .destroy = tb_destroy, .compute = tb_compute};

static const fivo_option options[] = {
    {"test_bound_option", FIVO_OPTION_DOUBLE, "0.5", "a double option", NULL, NULL, NULL},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = FIVO_ABI_MINOR, .kind = FIVO_PLUGIN_BOUND,
    .name = "test_bound", .version = "0.1.0", .description = "test bound plugin",
    .vtable = &vtable, .vtable_size = sizeof vtable, FIVO_PLUGIN_OPTIONS(options),
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
