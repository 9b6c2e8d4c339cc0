/* The hard ancestor schemes as SDK functions (see fivo/resample_hard.h): the
 * one implementation; the bundled plugins of the same names call it, so a
 * wrapper that names a scheme reproduces that plugin's forward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/resample_hard.h>
#include <fivo/weights.h>

static const char *const SCHEME_NAMES[] = {"multinomial", "systematic", "stratified", "residual"};

fivo_status fivo_resample_scheme_parse(const char *text, const char *key,
                                       fivo_resample_scheme *out, fivo_error *err)
{
    for (int i = 0; i < 4; i++)
        if (text != NULL && strcmp(text, SCHEME_NAMES[i]) == 0) {
            *out = (fivo_resample_scheme)i;
            return FIVO_OK;
        }
    return fivo_error_set(err, FIVO_ERR_INVALID,
                          "%s = '%s': expected one of multinomial, systematic, stratified, "
                          "residual",
                          key, text != NULL ? text : "(null)");
}

static void residual(fivo_resample_scratch *s, const double *log_w, int n, const fivo_rng *rng,
                     uint32_t row, int32_t *ancestors)
{
    double *w = s->w;
    int k = 0;
    double rsum = 0.0;
    for (int i = 0; i < n; i++) {
        double nw = (double)n * w[i];
        /* the tiny slack keeps N * (1/N) = 0.99999999 from losing its copy;
         * rounding can never hand out more than N */
        int copies = (int)floor(nw + 1e-9);
        if (copies > n - k)
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
        return;
    if (!(rsum > 0.0)) { /* only possible through rounding: fall back to the weights */
        fivo_weights_normalize(log_w, n, w, NULL);
        rsum = 1.0;
    }
    for (int i = 0; i < n; i++)
        w[i] /= rsum;
    fivo_weights_cdf(w, n, s->cdf);
    fivo_rng_uniform_double(rng, row, s->u, rest);
    for (int j = 0; j < rest; j++)
        ancestors[k++] = fivo_weights_find(s->cdf, n, s->u[j]);
}

fivo_status fivo_resample_hard(fivo_resample_scheme scheme, fivo_resample_scratch *s,
                               const double *log_w, int n, const fivo_rng *rng, uint32_t row,
                               int32_t *ancestors, fivo_error *err)
{
    if ((unsigned)scheme > FIVO_SCHEME_RESIDUAL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "resample: unknown scheme %d", (int)scheme);
    const char *who = SCHEME_NAMES[scheme];
    fivo_status st = fivo_resample_scratch_prepare(s, who, log_w, n, err);
    if (st != FIVO_OK)
        return st;
    switch (scheme) {
    case FIVO_SCHEME_MULTINOMIAL:
        fivo_rng_uniform_double(rng, row, s->u, n);
        for (int i = 0; i < n; i++)
            ancestors[i] = fivo_weights_find(s->cdf, n, s->u[i]);
        break;
    case FIVO_SCHEME_SYSTEMATIC: {
        double u;
        fivo_rng_uniform_double(rng, row, &u, 1);
        for (int i = 0; i < n; i++)
            s->u[i] = ((double)i + u) / (double)n;
        fivo_weights_find_sorted(s->cdf, n, s->u, n, ancestors);
        break;
    }
    case FIVO_SCHEME_STRATIFIED:
        fivo_rng_uniform_double(rng, row, s->u, n);
        for (int i = 0; i < n; i++)
            s->u[i] = ((double)i + s->u[i]) / (double)n;
        fivo_weights_find_sorted(s->cdf, n, s->u, n, ancestors);
        break;
    case FIVO_SCHEME_RESIDUAL:
        residual(s, log_w, n, rng, row, ancestors);
        break;
    }
    return FIVO_OK;
}

fivo_status fivo_resampler_state_new(size_t size, const char *who, const char *scheme,
                                     void **self, fivo_error *err)
{
    if (size < sizeof(fivo_resampler_state))
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: state of %zu bytes", who, size);
    fivo_resampler_state *r = calloc(1, size);
    if (r == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", who);
    if (scheme != NULL) {
        void *scratch = NULL;
        fivo_status st;
        if ((st = fivo_resample_scheme_parse(scheme, "[resampler] base", &r->scheme, err)) !=
                FIVO_OK ||
            (st = fivo_resample_scratch_create(NULL, &scratch, err)) != FIVO_OK) {
            free(r);
            return st;
        }
        r->scratch = scratch;
    }
    *self = r;
    return FIVO_OK;
}

void fivo_resampler_state_free(void *self)
{
    fivo_resampler_state *r = self;
    if (r == NULL)
        return;
    fivo_resample_scratch_destroy(r->scratch);
    free(r);
}
