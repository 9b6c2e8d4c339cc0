/* A third-party bound, built in tests/: FIVO that resamples at every step
 * with a share of the particles (its own option), so its numbers differ
 * from every bundled bound's and its lines can be told apart in eval. */
#include <fivo/fivo.h>

#include <stdlib.h>

typedef struct always {
    double share;
} always;

static const fivo_option OPTIONS[] = {
    {"particle_share", FIVO_OPTION_DOUBLE, "1.0", "fraction of num_samples used (at least 1)",
     NULL, NULL, NULL},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    double share = 0;
    fivo_status st = fivo_config_get_double(cfg, "bound", "particle_share", 0, &share, err);
    if (st != FIVO_OK)
        return st;
    if (!(share > 0.0 && share <= 1.0))
        return fivo_error_set(err, FIVO_ERR_INVALID, "[bound] particle_share = %g: expected (0, 1]",
                              share);
    always *a = calloc(1, sizeof *a);
    if (a == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "always: out of memory");
    a->share = share;
    *self = a;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err)
{
    const always *a = self;
    int n = (int)(a->share * num_particles);
    fivo_smc_options o = {.num_particles = n > 0 ? n : 1, .criterion = FIVO_RESAMPLE_ALWAYS,
                          .ess_threshold = 0.5, .resampler = resampler};
    return fivo_smc_run(ctx, model, batch, &o, out, err);
}

static const fivo_bound_vtable VTABLE = {.create = create, .destroy = destroy, .compute = compute};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_BOUND,
    .name = "always",
    .version = "0.1.0",
    .description = "third-party test bound: FIVO resampling at every step",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
