/* One report out: a JSON line appended to <logdir>/metrics.jsonl, an event
 * in the TensorBoard event file (train and eval), and the same values as a
 * human line on stdout. With several MPI ranks only rank 0 writes (every
 * rank holds the same values). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <fivo/internal/comm.h>
#include <fivo/progress.h>
#include <fivo/internal/metrics.h>

#include "modes.h"

int fivo_host_emit(fivo_host *h, fivo_report *r)
{
    if (fivo_comm_rank() != 0)
        return 0;
    if (g_mkdir_with_parents(h->logdir, 0755) != 0) {
        fprintf(stderr, "fivo: error: %s: cannot create logdir: %s\n", h->logdir,
                g_strerror(errno));
        return 1;
    }
    fivo_error err = {0};
    if (fivo_report_append(r, h->metrics_path, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    if (fivo_host_tensorboard(h, r) != 0)
        return 1;
    fivo_progress_clear();
    printf("%s\n", fivo_report_text(r));
    fflush(stdout);
    return 0;
}
