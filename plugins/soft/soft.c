/* Soft resampling (Karkus, Hsu & Lee 2018, "Particle filter networks").
 *
 * Ancestors are drawn from the mixture q = alpha * wbar + (1 - alpha) / N
 * (wbar = normalised weights) by the hard scheme named by [resampler] base,
 * and new particle i restarts with the importance weight wbar[a_i] / q[a_i]
 * (relative to the mean weight, which the engine adds to log Z-hat). That
 * keeps Z-hat unbiased for any alpha in (0, 1], and for alpha < 1 the new
 * weights depend on the old ones, so gradients flow through the resampling
 * step into every log weight. alpha = 1 is plain resampling (zero gradient
 * through the step); alpha -> 0 is uniform ancestors with full importance
 * weights. The score of the ancestor draw is not added (biased gradient, as
 * in the paper). */
#include <math.h>

#include <fivo/fivo.h>
#include <fivo/resample_hard.h>
#include <fivo/weights.h>

typedef struct soft {
    fivo_resampler_state hard; /* first: fivo_resampler_state_free is the destroy slot */
    double alpha;
} soft;

static const fivo_option OPTIONS[] = {
    {"alpha", FIVO_OPTION_DOUBLE, "0.5",
     "mixing weight of the normalised weights in the ancestor distribution, in (0, 1]", NULL, ">0", "1"},
    {"base", FIVO_OPTION_STRING, "multinomial", "the hard scheme that draws from the mixture",
     "multinomial|systematic|stratified|residual", NULL, NULL},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    double alpha = 0; /* defaults and ranges: OPTIONS (also with no config) */
    const char *base = NULL;
    fivo_status st =
        fivo_option_double(cfg, "resampler", FIVO_OPTION_ROWS(OPTIONS), "alpha", &alpha, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "resampler", FIVO_OPTION_ROWS(OPTIONS), "base", &base, err);
    if (st != FIVO_OK)
        return st;
    if ((st = fivo_resampler_state_new(sizeof(soft), "soft", base, self, err)) != FIVO_OK)
        return st;
    ((soft *)*self)->alpha = alpha;
    return FIVO_OK;
}

static fivo_status resample_weighted(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                     const double *lw, const fivo_rng *rng, uint32_t row,
                                     int32_t *ancestors, fivo_tensor **log_w_new,
                                     fivo_error *err)
{
    soft *r = self;
    int n = log_w->rows;
    double *log_q = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)n);
    if (log_q == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "soft: arena exhausted");
    /* The mixture in double for the draw; every q_j >= (1 - alpha) / N > 0
     * unless alpha = 1. */
    double lse = fivo_logsumexp_d(lw, n);
    for (int j = 0; j < n; j++)
        log_q[j] = log(r->alpha * exp(lw[j] - lse) + (1.0 - r->alpha) / (double)n);
    fivo_status st =
        fivo_resample_hard(r->hard.scheme, r->hard.scratch, log_q, n, rng, row, ancestors, err);
    if (st != FIVO_OK)
        return st;
    /* The same mixture on the tape, for the restart weights' gradient. */
    fivo_tensor *log_wbar = fivo_sub(ctx, log_w, fivo_logsumexp_groups(ctx, log_w, n));
    fivo_tensor *q = fivo_add_scalar(ctx, fivo_scale(ctx, fivo_exp(ctx, log_wbar), (float)r->alpha),
                                     (float)((1.0 - r->alpha) / (double)n));
    fivo_tensor *ratio = fivo_sub(ctx, log_wbar, fivo_log(ctx, q));
    *log_w_new = fivo_gather_rows(ctx, ratio, ancestors, n);
    return fivo_ctx_status(ctx, err);
}

static const fivo_resampler_vtable VTABLE = {
    .create = create,
    .destroy = fivo_resampler_state_free,
    .resample_weighted = resample_weighted,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "soft",
    .version = "1.0.0",
    .description = "soft resampling (Karkus et al. 2018): ancestors from alpha w + (1 - alpha) / N, "
                   "new weights w / q that carry gradients",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
