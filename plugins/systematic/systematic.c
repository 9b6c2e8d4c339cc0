/* Systematic resampling: one uniform u per filter, points (i + u) / N.
 * Particle i gets floor(N w_i) or ceil(N w_i) offspring (lowest variance of
 * the schemes here). Ancestors come out in increasing order. */
#include <stdlib.h>

#include <fivo/fivo.h>
#include <fivo/weights.h>

typedef struct scratch {
    double *w; /* 2n doubles: probabilities, then the CDF */
    int cap;
} scratch;

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg;
    *self = calloc(1, sizeof(scratch));
    if (*self == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "systematic: out of memory");
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
        return fivo_error_set(err, FIVO_ERR_INVALID, "systematic: %d particles", n);
    if (n > s->cap) { /* grows once to the particle count, then reused */
        double *w = realloc(s->w, sizeof(double) * 2 * (size_t)n);
        if (w == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "systematic: out of memory");
        s->w = w;
        s->cap = n;
    }
    double *w = s->w, *cdf = s->w + n;
    fivo_status st = fivo_weights_normalize(log_w, n, w, err);
    if (st != FIVO_OK)
        return st;
    fivo_weights_cdf(w, n, cdf);
    double u;
    fivo_rng_uniform_double(rng, row, &u, 1);
    int j = 0;
    for (int i = 0; i < n; i++) {
        double pos = ((double)i + u) / (double)n;
        while (j < n - 1 && !(pos < cdf[j]))
            j++;
        ancestors[i] = j;
    }
    return FIVO_OK;
}

static const fivo_resampler_vtable VTABLE = {create, destroy, resample, NULL};

static const fivo_plugin_descriptor DESCRIPTOR = {
    FIVO_ABI_MAJOR, FIVO_ABI_MINOR, FIVO_PLUGIN_RESAMPLER, "systematic", "1.0.0",
    "systematic resampling: one uniform per filter, floor/ceil(N w) offspring",
    &VTABLE, sizeof VTABLE, NULL, 0};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &DESCRIPTOR;
}
