/* Double-precision helpers on particle log weights (see fivo/weights.h). */
#include <math.h>

#include <fivo/weights.h>

double fivo_logsumexp_d(const double *x, int n)
{
    double m = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (!isfinite(m))
        return m; /* -inf (all -inf or empty), or +inf */
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

fivo_status fivo_weights_check(const double *log_w, int n, fivo_error *err)
{
    int finite = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(log_w[i]))
            return fivo_error_set(err, FIVO_ERR_NUMERIC, "NaN log weight at particle %d of %d", i,
                                  n);
        if (isinf(log_w[i]) && log_w[i] > 0)
            return fivo_error_set(err, FIVO_ERR_NUMERIC, "+inf log weight at particle %d of %d",
                                  i, n);
        if (isfinite(log_w[i]))
            finite++;
    }
    if (finite == 0)
        return fivo_error_set(err, FIVO_ERR_NUMERIC, "all %d log weights are -inf", n);
    return FIVO_OK;
}

fivo_status fivo_weights_normalize(const double *log_w, int n, double *w, fivo_error *err)
{
    fivo_status st = fivo_weights_check(log_w, n, err);
    if (st != FIVO_OK)
        return st;
    double lse = fivo_logsumexp_d(log_w, n);
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        w[i] = exp(log_w[i] - lse);
        s += w[i];
    }
    for (int i = 0; i < n; i++) /* remove the last rounding so sum is 1 */
        w[i] /= s;
    return FIVO_OK;
}

double fivo_weights_log_ess(const double *log_w, int n)
{
    double lse = fivo_logsumexp_d(log_w, n);
    if (!isfinite(lse))
        return -INFINITY;
    /* logsumexp(2 x) without a second buffer: shift by 2 max. */
    double m = -INFINITY;
    for (int i = 0; i < n; i++)
        if (log_w[i] > m)
            m = log_w[i];
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp(2.0 * (log_w[i] - m));
    return 2.0 * lse - (2.0 * m + log(s));
}

void fivo_weights_cdf(const double *w, int n, double *cdf)
{
    double c = 0.0;
    int last = -1;
    for (int i = 0; i < n; i++) {
        c += w[i];
        cdf[i] = c;
        if (w[i] > 0.0)
            last = i;
    }
    for (int i = last < 0 ? 0 : last; i < n; i++)
        cdf[i] = 1.0;
}

int32_t fivo_weights_find(const double *cdf, int n, double u)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (u < cdf[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)lo;
}

void fivo_weights_find_sorted(const double *cdf, int n, const double *points, int m,
                              int32_t *out)
{
    int j = 0;
    for (int i = 0; i < m; i++) {
        while (j < n - 1 && !(points[i] < cdf[j]))
            j++;
        out[i] = (int32_t)j;
    }
}
