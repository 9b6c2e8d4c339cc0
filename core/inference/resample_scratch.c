/* The shared work buffer of ancestor resamplers (see fivo/resample_scratch.h). */
#include <stdlib.h>

#include <fivo/resample_scratch.h>
#include <fivo/weights.h>

fivo_status fivo_resample_scratch_create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg;
    *self = calloc(1, sizeof(fivo_resample_scratch));
    if (*self == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "resampler: out of memory");
    return FIVO_OK;
}

void fivo_resample_scratch_destroy(void *self)
{
    fivo_resample_scratch *s = self;
    if (s != NULL)
        free(s->buf);
    free(s);
}

fivo_status fivo_resample_scratch_prepare(fivo_resample_scratch *s, const char *who,
                                          const double *log_w, int n, fivo_error *err)
{
    if (n <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: %d particles", who, n);
    if (n > s->cap) { /* grows once to the particle count, then reused */
        double *b = realloc(s->buf, sizeof(double) * 3 * (size_t)n);
        if (b == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", who);
        s->buf = b;
        s->cap = n;
    }
    s->w = s->buf;
    s->cdf = s->buf + n;
    s->u = s->buf + 2 * (size_t)n;
    fivo_status st = fivo_weights_normalize(log_w, n, s->w, err);
    if (st != FIVO_OK)
        return st;
    fivo_weights_cdf(s->w, n, s->cdf);
    return FIVO_OK;
}
