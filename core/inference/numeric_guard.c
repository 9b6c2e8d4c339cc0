/* Cause of a non-finite value in training (see numeric_guard.h). */
#include "numeric_guard.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The first non-finite parameter value: its name, index and value. */
static bool find_nonfinite(const fivo_params *params, const char **name, size_t *at, float *v)
{
    int n = fivo_params_count(params);
    for (int i = 0; i < n; i++) {
        const fivo_tensor *t = fivo_params_at(params, i, name);
        size_t size = fivo_tensor_size(t);
        for (size_t k = 0; k < size; k++)
            if (!isfinite(t->data[k])) {
                *at = k;
                *v = t->data[k];
                return true;
            }
    }
    return false;
}

fivo_status fivo_numeric_nonfinite_bound(const fivo_params *params, int seq, double value,
                                      fivo_error *err)
{
    const char *name;
    size_t at;
    float v;
    if (find_nonfinite(params, &name, &at, &v))
        return fivo_error_set(err, FIVO_ERR_NUMERIC,
                              "the bound of sequence %d is %g: parameter '%s' holds %g at index "
                              "%zu",
                              seq, value, name, (double)v, at);
    return fivo_error_set(err, FIVO_ERR_NUMERIC,
                          "the bound of sequence %d is %g: every parameter is finite, the "
                          "model's log weights are not",
                          seq, value);
}

fivo_status fivo_numeric_explain(const fivo_params *params, fivo_status st,
                                      fivo_error *err)
{
    const char *name;
    size_t at;
    float v;
    if (st != FIVO_ERR_NUMERIC || err == NULL || !find_nonfinite(params, &name, &at, &v))
        return st;
    size_t len = strlen(err->message);
    snprintf(err->message + len, sizeof err->message - len,
             " (parameter '%s' holds %g at index %zu)", name, (double)v, at);
    return st;
}
