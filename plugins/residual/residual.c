/* Residual resampling: particle i first gets floor(N w_i) copies; the
 * R = N - sum floor(N w_i) remaining ancestors are drawn multinomially from
 * the residuals N w_i - floor(N w_i). Deterministic copies come first. */
#include <math.h>

#include <fivo/fivo.h>
#include <fivo/resample_scratch.h>
#include <fivo/weights.h>

static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    fivo_resample_scratch *s = self;
    fivo_status st = fivo_resample_scratch_prepare(s, "residual", log_w, n, err);
    if (st != FIVO_OK)
        return st;
    double *w = s->w, *cdf = s->cdf, *u = s->u;
    int k = 0;
    double rsum = 0.0;
    for (int i = 0; i < n; i++) {
        double nw = (double)n * w[i];
        /* the tiny slack keeps N * (1/N) = 0.99999999 from losing its copy */
        int copies = (int)floor(nw + 1e-9);
        if (copies > n - k) /* rounding can never hand out more than N */
            copies = n - k;
        for (int c = 0; c < copies; c++)
            ancestors[k++] = i;
        w[i] = nw - (double)copies; /* the residual, reused in place */
        if (w[i] < 0.0)
            w[i] = 0.0;
        rsum += w[i];
    }
    int rest = n - k;
    if (rest == 0)
        return FIVO_OK;
    if (!(rsum > 0.0)) { /* only possible through rounding: fall back to the weights */
        fivo_weights_normalize(log_w, n, w, NULL);
        rsum = 1.0;
    }
    for (int i = 0; i < n; i++)
        w[i] /= rsum;
    fivo_weights_cdf(w, n, cdf);
    fivo_rng_uniform_double(rng, row, u, rest);
    for (int j = 0; j < rest; j++)
        ancestors[k++] = fivo_weights_find(cdf, n, u[j]);
    return FIVO_OK;
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
