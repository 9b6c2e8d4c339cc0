/* What the ancestor resampler plugins (multinomial, systematic, stratified,
 * residual, and third-party ones) share: a work buffer that grows once to the
 * particle count and is reused, and the preamble of every resample call
 * (check n, normalise the log weights, build their CDF).
 *
 * fivo_resample_scratch_create and _destroy have the signatures of the
 * resampler vtable's create and destroy slots, so a resampler without
 * settings can put them in its vtable directly; its resample slot then gets
 * the scratch as `self`. */
#ifndef FIVO_RESAMPLE_SCRATCH_H
#define FIVO_RESAMPLE_SCRATCH_H

#include <fivo/config.h>
#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_resample_scratch {
    /* Valid after fivo_resample_scratch_prepare, n doubles each: */
    double *w;   /* normalised probabilities (sum 1) */
    double *cdf; /* their CDF, from fivo_weights_cdf */
    double *u;   /* free for the caller, e.g. its uniforms */
    /* private: only fivo_resample_scratch_create allocates this struct */
    double *buf;
    int cap;
} fivo_resample_scratch;

/* *self := an empty scratch; cfg is ignored. */
fivo_status fivo_resample_scratch_create(const fivo_config *cfg, void **self, fivo_error *err);
/* Frees a scratch from fivo_resample_scratch_create (NULL is fine). */
void fivo_resample_scratch_destroy(void *self);

/* Grows s to n particles and fills s->w and s->cdf from log_w[0..n). n <= 0
 * is FIVO_ERR_INVALID naming `who`; bad weights are fivo_weights_normalize's
 * FIVO_ERR_NUMERIC. */
fivo_status fivo_resample_scratch_prepare(fivo_resample_scratch *s, const char *who,
                                          const double *log_w, int n, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
