/* The hard ancestor schemes as SDK functions (see fivo/resample_hard.h). The
 * arithmetic is the bundled plugins' own, step for step, so a wrapper that
 * names a scheme reproduces that plugin's forward pass bit for bit. */
#include <math.h>
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
        /* same slack and cap as plugins/residual: 1/N * N must keep its copy */
        int copies = (int)floor(nw + 1e-9);
        if (copies > n - k)
            copies = n - k;
        for (int c = 0; c < copies; c++)
            ancestors[k++] = i;
        w[i] = nw - (double)copies;
        if (w[i] < 0.0)
            w[i] = 0.0;
        rsum += w[i];
    }
    int rest = n - k;
    if (rest == 0)
        return;
    if (!(rsum > 0.0)) {
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
