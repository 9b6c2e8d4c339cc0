/* Stop-gradient resampling (Scibior & Wood 2021, "Differentiable particle
 * filtering without modifying the forward pass").
 *
 * Forward: exactly the hard scheme named by [resampler] base (multinomial,
 * systematic, stratified or residual): the same uniforms, the same ancestors,
 * the same log Z-hat, bit for bit. Backward: new particle i restarts with the
 * log weight
 *     log wbar[a_i] - stop_gradient(log wbar[a_i]),   wbar = w / sum(w),
 * which is 0 in value and carries d log wbar[a_i], the score of the ancestor
 * draw (P(a_i = j) = wbar_j for every base scheme's marginal). The engine
 * adds the differentiable log mean(w) to log Z-hat as for any resampler; with
 * the normalised wbar the two together are the paper's w_a / stop_gradient(w_a)
 * times stop_gradient(mean w) (the unnormalised w_a would count d log sum(w)
 * twice).
 *
 * Which parameter gets which gradient: d log Z-hat gains, for every
 * resampling step and particle, d log wbar[a_i] times that particle's share
 * of the later weights, so every parameter that shapes a log weight (model
 * and proposal alike) gets the score of the ancestor choice on top of the
 * pathwise gradient that plain resampling already gives (through the
 * reparameterised samples and the weights). For multinomial, exp(log Z-hat)
 * then has an unbiased gradient: E[d Z-hat] = d p(x)
 * (tests/test_grad_resamplers.cc). */
#include <fivo/fivo.h>
#include <fivo/resample_hard.h>

static const fivo_option OPTIONS[] = {
    {"base", FIVO_OPTION_STRING, "multinomial", "the hard scheme the forward pass uses",
     "multinomial|systematic|stratified|residual", NULL, NULL},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    const char *base = NULL; /* default and choices: OPTIONS (also with no config) */
    fivo_status st =
        fivo_option_string(cfg, "resampler", FIVO_OPTION_ROWS(OPTIONS), "base", &base, err);
    if (st != FIVO_OK)
        return st;
    return fivo_resampler_state_new(sizeof(fivo_resampler_state), "stop-gradient", base, self,
                                    err);
}

/* The forward pass alone (what the engine uses where it has no tape). */
static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    fivo_resampler_state *r = self;
    return fivo_resample_hard(r->scheme, r->scratch, log_w, n, rng, row, ancestors, err);
}

static fivo_status resample_weighted(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                     const double *lw, const fivo_rng *rng, uint32_t row,
                                     int32_t *ancestors, fivo_tensor **log_w_new,
                                     fivo_error *err)
{
    int n = log_w->rows;
    fivo_status st = resample(self, lw, n, rng, row, ancestors, err);
    if (st != FIVO_OK)
        return st;
    fivo_tensor *log_wbar = fivo_sub(ctx, log_w, fivo_logsumexp_groups(ctx, log_w, n));
    fivo_tensor *picked = fivo_gather_rows(ctx, log_wbar, ancestors, n);
    *log_w_new = fivo_sub(ctx, picked, fivo_stop_gradient(ctx, picked));
    return fivo_ctx_status(ctx, err);
}

static const fivo_resampler_vtable VTABLE = {
    .create = create,
    .destroy = fivo_resampler_state_free,
    .resample = resample,
    .resample_weighted = resample_weighted,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "stop-gradient",
    .version = "1.0.0",
    .description = "stop-gradient resampling (Scibior & Wood 2021): a hard scheme's forward "
                   "pass, plus the ancestor score terms in the backward pass",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
