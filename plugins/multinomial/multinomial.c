/* Multinomial resampling (the reference's default): N independent draws
 * from the categorical of the normalised weights, by inverse CDF in double. */
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
        return fivo_error_set(err, FIVO_ERR_NOMEM, "multinomial: out of memory");
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
        return fivo_error_set(err, FIVO_ERR_INVALID, "multinomial: %d particles", n);
    if (n > s->cap) { /* grows once to the particle count, then reused */
        double *w = realloc(s->w, sizeof(double) * 3 * (size_t)n);
        if (w == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "multinomial: out of memory");
        s->w = w;
        s->cap = n;
    }
    double *w = s->w, *cdf = s->w + n, *u = s->w + 2 * (size_t)n;
    fivo_status st = fivo_weights_normalize(log_w, n, w, err);
    if (st != FIVO_OK)
        return st;
    fivo_weights_cdf(w, n, cdf);
    fivo_rng_uniform_double(rng, row, u, n);
    for (int i = 0; i < n; i++)
        ancestors[i] = fivo_weights_find(cdf, n, u[i]);
    return FIVO_OK;
}

static const fivo_resampler_vtable VTABLE = {create, destroy, resample, NULL};

static const fivo_plugin_descriptor DESCRIPTOR = {
    FIVO_ABI_MAJOR, FIVO_ABI_MINOR, FIVO_PLUGIN_RESAMPLER, "multinomial", "1.0.0",
    "multinomial resampling: N independent categorical draws",
    &VTABLE, sizeof VTABLE, NULL, 0};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &DESCRIPTOR;
}
