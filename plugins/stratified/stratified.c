/* Stratified resampling: one uniform u_i per stratum, points (i + u_i) / N.
 * Particle i gets floor(N w_i) or ceil(N w_i) offspring. Ancestors come out
 * in increasing order.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/fivo.h>
#include <fivo/resample_hard.h>

static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    return fivo_resample_hard(FIVO_SCHEME_STRATIFIED, self, log_w, n, rng, row, ancestors, err);
}

static const fivo_resampler_vtable VTABLE = {.create = fivo_resample_scratch_create,
                                             .destroy = fivo_resample_scratch_destroy,
                                             .resample = resample};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "stratified",
    .version = "1.0.0",
    .description = "stratified resampling: one uniform per stratum (offspring floor(N w)-1..ceil(N w)+1)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
