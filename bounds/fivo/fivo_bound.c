/* The FIVO bound: log of a particle filter's unbiased estimate of p(x), with
 * the resampling criterion ([bound] resampling_criterion, default ess),
 * threshold ([bound] ess_threshold, default 0.5) and the configured
 * resampler. */
#include <stdlib.h>

#include <fivo/fivo.h>

typedef struct fivo_bound_self {
    fivo_criterion criterion;
    double ess_threshold;
} fivo_bound_self;

static const fivo_option OPTIONS[] = {FIVO_SMC_CRITERION_OPTIONS};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    fivo_bound_self r;
    fivo_status st = fivo_smc_criterion_read(cfg, FIVO_OPTION_ROWS(OPTIONS), &r.criterion,
                                             &r.ess_threshold, err);
    if (st != FIVO_OK)
        return st;
    fivo_bound_self *s = malloc(sizeof *s);
    if (s == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo bound: out of memory");
    *s = r;
    *self = s;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err)
{
    fivo_bound_self *s = self;
    if (s->criterion != FIVO_RESAMPLE_NEVER && resampler == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo bound: resampling needs a resampler ([resampler] plugin)");
    fivo_smc_options o = {.num_particles = num_particles, .criterion = s->criterion,
                          .ess_threshold = s->ess_threshold, .resampler = resampler};
    return fivo_smc_run(ctx, model, batch, &o, out, err);
}

static const fivo_bound_vtable VTABLE = {.create = create, .destroy = destroy, .compute = compute};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_BOUND,
    .name = "fivo",
    .version = "1.0.0",
    .description = "FIVO: log of a particle filter's estimate of p(x) (Maddison et al. 2017)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
