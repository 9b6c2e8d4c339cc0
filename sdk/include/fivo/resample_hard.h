/* The four ancestor schemes of the bundled resampler plugins (multinomial,
 * systematic, stratified, residual) as SDK functions, for resamplers that
 * wrap a hard scheme with a different backward pass or a different proposal
 * (stop-gradient, soft). Each draws exactly the uniforms, and returns exactly
 * the ancestors, of the plugin of the same name for the same rng and row
 * (tests/test_grad_resamplers.cc checks it). */
#ifndef FIVO_RESAMPLE_HARD_H
#define FIVO_RESAMPLE_HARD_H

#include <fivo/error.h>
#include <fivo/resample_scratch.h>
#include <fivo/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_resample_scheme {
    FIVO_SCHEME_MULTINOMIAL,
    FIVO_SCHEME_SYSTEMATIC,
    FIVO_SCHEME_STRATIFIED,
    FIVO_SCHEME_RESIDUAL
} fivo_resample_scheme;

/* "multinomial" | "systematic" | "stratified" | "residual"; anything else is
 * FIVO_ERR_INVALID naming `key`. */
fivo_status fivo_resample_scheme_parse(const char *text, const char *key,
                                       fivo_resample_scheme *out, fivo_error *err);

/* Ancestors[0..n) from log_w[0..n) by `scheme`, using s as work space (s from
 * fivo_resample_scratch_create). Errors as fivo_resample_scratch_prepare. */
fivo_status fivo_resample_hard(fivo_resample_scheme scheme, fivo_resample_scratch *s,
                               const double *log_w, int n, const fivo_rng *rng, uint32_t row,
                               int32_t *ancestors, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
