/* Multinomial resampling (the reference's default): N independent draws
 * from the categorical of the normalised weights, by inverse CDF in double. */
#include <fivo/fivo.h>
#include <fivo/resample_scratch.h>
#include <fivo/weights.h>

static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    fivo_resample_scratch *s = self;
    fivo_status st = fivo_resample_scratch_prepare(s, "multinomial", log_w, n, err);
    if (st != FIVO_OK)
        return st;
    fivo_rng_uniform_double(rng, row, s->u, n);
    for (int i = 0; i < n; i++)
        ancestors[i] = fivo_weights_find(s->cdf, n, s->u[i]);
    return FIVO_OK;
}

static const fivo_resampler_vtable VTABLE = {.create = fivo_resample_scratch_create,
                                             .destroy = fivo_resample_scratch_destroy,
                                             .resample = resample};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "multinomial",
    .version = "1.0.0",
    .description = "multinomial resampling: N independent categorical draws",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
