/* A resampler plugin for registry tests: ancestors are the identity. */
#include <stdlib.h>

#include <fivo/abi.h>
#include <fivo/plugin_resampler.h>

static fivo_status tr_create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg, (void)err;
    *self = calloc(1, 8);
    return *self != NULL ? FIVO_OK : FIVO_ERR_NOMEM;
}

static void tr_destroy(void *self)
{
    free(self);
}

static fivo_status tr_resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                               uint32_t row, int32_t *ancestors, fivo_error *err)
{
    (void)self, (void)log_w, (void)rng, (void)row, (void)err;
    for (int i = 0; i < n; i++)
        ancestors[i] = i;
    return FIVO_OK;
}

static const fivo_resampler_vtable vtable = {
    .create = tr_create, .destroy = tr_destroy, .resample = tr_resample,
    .resample_relaxed = NULL};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = FIVO_ABI_MINOR, .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "test_resampler", .version = "0.1.0", .description = "identity resampler",
    .vtable = &vtable, .vtable_size = sizeof vtable, .options = NULL, .num_options = 0,
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
