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

static const fivo_option OPTIONS[] = {
    {"resampling_criterion", FIVO_OPTION_STRING, "ess",
     "when to resample: ess (ESS <= ess_threshold * N), always, never", "ess|always|never", NULL, NULL},
    {"ess_threshold", FIVO_OPTION_DOUBLE, "0.5", "fraction of N below which the ESS resamples", NULL, "0", "1"},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    const char *crit = NULL; /* defaults: OPTIONS (also with no config) */
    double thr = 0;
    fivo_status st = fivo_option_string(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS),
                                        "resampling_criterion", &crit, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS), "ess_threshold", &thr,
                                err);
    if (st != FIVO_OK)
        return st;
    fivo_criterion criterion;
    if (fivo_criterion_parse(crit, &criterion, err) != FIVO_OK)
        return fivo_error_prefix(err, "[bound] resampling_criterion: ");
    fivo_bound_self *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo bound: out of memory");
    s->criterion = criterion;
    s->ess_threshold = thr;
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
    fivo_smc_options o = {num_particles, s->criterion, s->ess_threshold, resampler};
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
