/* Helpers on the log weights of one particle filter, in double precision:
 * what the SMC engine and the resampler plugins share (normalisation, the
 * effective sample size, inverse-CDF lookup). */
#ifndef FIVO_WEIGHTS_H
#define FIVO_WEIGHTS_H

#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* log sum_i exp(x_i), stable; -inf when every x_i is -inf (or n == 0). */
double fivo_logsumexp_d(const double *x, int n);

/* Checks n log weights: FIVO_ERR_NUMERIC (message "NaN log weight at
 * particle i" / "+inf log weight ..." / "all N log weights are -inf") when
 * any is NaN or +inf or all are -inf; -inf alone is fine. */
fivo_status fivo_weights_check(const double *log_w, int n, fivo_error *err);

/* Normalised probabilities w_i = exp(log_w_i - logsumexp(log_w)), summing to
 * 1 (-inf gives exactly 0). Same errors as fivo_weights_check. */
fivo_status fivo_weights_normalize(const double *log_w, int n, double *w, fivo_error *err);

/* log of the effective sample size (sum w)^2 / sum w^2 of unnormalised log
 * weights: 2 logsumexp(log_w) - logsumexp(2 log_w). */
double fivo_weights_log_ess(const double *log_w, int n);

/* Cumulative sums of probabilities w (from fivo_weights_normalize) into
 * cdf[0..n), with the entry of the last positive weight and every later one
 * forced to exactly 1 so that any u in [0, 1) finds a particle of positive
 * weight. */
void fivo_weights_cdf(const double *w, int n, double *cdf);

/* The smallest i with u < cdf[i] (binary search); cdf from fivo_weights_cdf,
 * u in [0, 1). Zero-weight particles (empty intervals) are never returned. */
int32_t fivo_weights_find(const double *cdf, int n, double u);

/* fivo_weights_find for m points sorted ascending (each in [0, 1)), in one
 * merge walk: out[i] := the smallest j with points[i] < cdf[j], clamped to
 * n - 1. Systematic and stratified resampling; out is non-decreasing. */
void fivo_weights_find_sorted(const double *cdf, int n, const double *points, int m,
                              int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
