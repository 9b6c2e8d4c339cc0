/* Residual resampling: particle i first gets floor(N w_i) copies; the
 * R = N - sum floor(N w_i) remaining ancestors are drawn multinomially from
 * the residuals N w_i - floor(N w_i). Deterministic copies come first. */
#include <math.h>
#include <stdlib.h>

#include <fivo/fivo.h>
#include <fivo/weights.h>

typedef struct scratch {
    double *w; /* 3n doubles: probabilities, the CDF, uniforms */
    int cap;
} scratch;

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg;
    *self = calloc(1, sizeof(scratch));
    if (*self == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "residual: out of memory");
    return FIVO_OK;
}

static void destroy(void *self)
{
    scratch *s = self;
    if (s != NULL)
        free(s->w);
    free(s);
}

static fivo_status resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                            uint32_t row, int32_t *ancestors, fivo_error *err)
{
    scratch *s = self;
    if (n <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "residual: %d particles", n);
    if (n > s->cap) { /* grows once to the particle count, then reused */
        double *w = realloc(s->w, sizeof(double) * 3 * (size_t)n);
        if (w == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "residual: out of memory");
        s->w = w;
        s->cap = n;
    }
    double *w = s->w, *cdf = s->w + n, *u = s->w + 2 * (size_t)n;
    fivo_status st = fivo_weights_normalize(log_w, n, w, err);
    if (st != FIVO_OK)
        return st;
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

static const fivo_resampler_vtable VTABLE = {create, destroy, resample, NULL};

static const fivo_plugin_descriptor DESCRIPTOR = {
    FIVO_ABI_MAJOR, FIVO_ABI_MINOR, FIVO_PLUGIN_RESAMPLER, "residual", "1.0.0",
    "residual resampling: floor(N w) copies, the rest multinomial on residuals",
    &VTABLE, sizeof VTABLE, NULL, 0};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &DESCRIPTOR;
}
