/* Residual resampling: particle i first gets floor(N w_i) copies; the
 * R = N - sum floor(N w_i) remaining ancestors are drawn multinomially from
 * the residuals N w_i - floor(N w_i). Deterministic copies come first.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/fivo.h>
#include <fivo/resample_hard.h>

static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    return fivo_resample_hard(FIVO_SCHEME_RESIDUAL, self, log_w, n, rng, row, ancestors, err);
}

static const fivo_resampler_vtable VTABLE = {.create = fivo_resample_scratch_create,
                                             .destroy = fivo_resample_scratch_destroy,
                                             .resample = resample};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "residual",
    .version = "1.0.0",
    .description = "residual resampling: floor(N w) copies, the rest multinomial on residuals",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
