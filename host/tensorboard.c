/* TensorBoard summaries of the host's reports (see fivo/events.h): every
 * train and eval report also goes, as one event, into one event file per
 * process in the logdir, unless [train] tensorboard = false. Tags are
 * train/<name> and eval/<split>/<name>, so TensorBoard groups the curves by
 * what produced them and keeps valid and test apart. Other modes' reports
 * (sample, convert, inspect) have no step and are not curves. */
#include <stdio.h>
#include <string.h>

#include <fivo/internal/events.h>
#include <fivo/internal/metrics.h>

#include "modes.h"

int fivo_host_tensorboard(fivo_host *h, fivo_report *r)
{
    const char *mode = fivo_report_get_string(r, "mode");
    if (mode == NULL || (strcmp(mode, "train") != 0 && strcmp(mode, "eval") != 0))
        return 0;
    if (!h->set.tensorboard)
        return 0;
    fivo_error err = {0};
    if (h->events_path[0] == '\0') {
        double now = 0.0;
        fivo_report_get_number(r, "time", &now);
        if (fivo_events_create(h->logdir, now, h->events_path, sizeof h->events_path, &err) !=
            FIVO_OK) {
            h->events_path[0] = '\0';
            fprintf(stderr, "fivo: error: %s\n", err.message);
            return 1;
        }
    }
    char prefix[256];
    const char *split = fivo_report_get_string(r, "split");
    if (strcmp(mode, "eval") == 0 && split != NULL)
        snprintf(prefix, sizeof prefix, "eval/%s/", split);
    else
        snprintf(prefix, sizeof prefix, "%s/", mode);
    if (fivo_events_append_report(h->events_path, r, prefix, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    return 0;
}
