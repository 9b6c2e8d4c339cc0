/* TEMPORARY (branch vrnn): a weak stand-in for fivo_host_emit until the
 * foundation host CLI is merged; its strong definition replaces this one.
 * Delete this file at that merge. */
#include "modes.h"

#include <stdio.h>

__attribute__((weak)) int fivo_host_emit(fivo_host *h, fivo_report *r)
{
    fivo_error err;
    printf("%s\n", fivo_report_json(r));
    if (h->metrics_path && fivo_report_append(r, h->metrics_path, &err) != FIVO_OK)
        return 1;
    return 0;
}
