/* The ELBO: IWAE with one particle, whatever num_samples says (as in the
 * reference, which calls iwae with num_samples=1 for the elbo bound). */
#include <fivo/fivo.h>

static fivo_status compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err)
{
    (void)self;
    (void)resampler;
    (void)num_particles;
    fivo_smc_options o = {.num_particles = 1, .criterion = FIVO_RESAMPLE_NEVER, .ess_threshold = 0.5};
    return fivo_smc_run(ctx, model, batch, &o, out, err);
}

static const fivo_bound_vtable VTABLE = {.create = fivo_bound_stateless_create,
                                          .destroy = fivo_bound_stateless_destroy,
                                          .compute = compute};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_BOUND,
    .name = "elbo",
    .version = "1.0.0",
    .description = "ELBO: the evidence lower bound, one particle",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
