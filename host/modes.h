/* The fivo host: one function per mode, each in its own file
 * (mode_<name>.c), returning the process exit code. The modes are the
 * choices of the [fivo] mode row and the keys are the rows of host/flags.c
 * (`fivo --help` lists both); a plugin section's keys are the chosen
 * plugin's option rows. A mode reads the host's values from h->set. */
#ifndef FIVO_HOST_MODES_H
#define FIVO_HOST_MODES_H

#include <fivo/internal/checkpoint.h>
#include <fivo/fivo.h>
#include <fivo/progress.h>
#include <fivo/internal/optim.h>
#include <fivo/internal/registry.h>

#include "settings.h"

typedef struct fivo_host {
    fivo_config *cfg;     /* merged key file + flags, checked and defaulted (for plugins) */
    fivo_host_settings set; /* the host's own values, read once from cfg */
    fivo_registry *reg;   /* every plugin found */
    const char *logdir;   /* [fivo] logdir, created on demand */
    const char *metrics_path; /* <logdir>/metrics.jsonl */
    char events_path[4096];   /* this process's TensorBoard event file, "" until the first event */
} fivo_host;

int fivo_host_run_train(fivo_host *h);
int fivo_host_run_eval(fivo_host *h);
int fivo_host_run_sample(fivo_host *h);
int fivo_host_run_convert(fivo_host *h);
int fivo_host_run_inspect(fivo_host *h);
int fivo_host_run_plugins(fivo_host *h);
int fivo_host_run_plot(fivo_host *h);

/* Writes a report to metrics.jsonl and prints it; shared by every mode.
 * Creates logdir on first use. Returns 0, or 1 after printing the error. */
int fivo_host_emit(fivo_host *h, fivo_report *r);

/* Appends a train or eval report to this process's TensorBoard event file
 * (created on first use) unless [train] tensorboard is false; other modes'
 * reports are ignored. Returns 0, or 1 after printing the error. */
int fivo_host_tensorboard(fivo_host *h, fivo_report *r);

/* Draws the training progress line (p NULL: no terminal, nothing). */
void fivo_host_train_progress(fivo_progress *p, long done, const char *bound_name,
                              double bound_per_t);

/* The plugin that section [<kind>] names with its `plugin` key. When no
 * plugin of that kind and name was found, prints which kind and name is
 * missing, the available ones and where the host looked, and returns NULL
 * (the mode then exits non-zero). */
const fivo_plugin_info *fivo_host_require_plugin(fivo_host *h, fivo_plugin_kind kind);

/* Collective (restore.c): the checkpoint at `path` (NULL: the newest valid
 * one in logdir) into params, and into adam when not NULL. With several
 * MPI ranks rank 0 reads it and sends it to every rank, so all start from
 * the same bits (no shared file system needed); every rank returns rank
 * 0's status and message. *used (may be NULL) gets the file read. */
fivo_status fivo_host_restore(const char *logdir, const char *path, fivo_params *params,
                              fivo_adam *adam, fivo_checkpoint_meta *meta, char **used,
                              fivo_error *err);

#endif
