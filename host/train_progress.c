/* The training loop's progress line: step of max_steps, steps/s, ETA and
 * the bound of the current summary window (see fivo/progress.h). */
#include <math.h>
#include <stdio.h>

#include "modes.h"

void fivo_host_train_progress(fivo_progress *p, long done, const char *bound_name,
                              double bound_per_t)
{
    if (!fivo_progress_due(p, done)) /* no formatting on the steps not drawn */
        return;
    char extra[96];
    if (isfinite(bound_per_t))
        snprintf(extra, sizeof extra, "%s bound/t %.6g", bound_name, bound_per_t);
    else
        extra[0] = '\0';
    fivo_progress_update(p, done, extra[0] != '\0' ? extra : NULL);
}
