/* Names the cause when training meets a non-finite value, so the stop
 * message says more than "NaN": which parameter holds it, or that every
 * parameter is finite and the model's log weights produced it. */
#ifndef FIVO_NUMERIC_GUARD_H
#define FIVO_NUMERIC_GUARD_H

#include <fivo/fivo.h>

/* Sets err (FIVO_ERR_NUMERIC) for a bound of `value` on sequence `seq` and
 * returns that status. */
fivo_status fivo_numeric_nonfinite_bound(const fivo_params *params, int seq, double value,
                                      fivo_error *err);

/* For a failed bound computation: when st is FIVO_ERR_NUMERIC and a
 * parameter is non-finite, appends which one to err. Returns st. */
fivo_status fivo_numeric_explain(const fivo_params *params, fivo_status st,
                                      fivo_error *err);

#endif
