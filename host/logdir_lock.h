/* One writer per folder: train (logdir), sample (its output folder) and
 * convert (out_dir) take an exclusive flock on <folder>/.fivo.lock before
 * they write. A second writer is refused naming the folder and the holder's
 * pid. Readers (eval) take no lock: they read only complete, renamed
 * checkpoints. The kernel drops a flock when its holder dies, so the lock of
 * a killed process never blocks; the file itself may stay behind. */
#ifndef FIVO_HOST_LOGDIR_LOCK_H
#define FIVO_HOST_LOGDIR_LOCK_H

#include <fivo/fivo.h>

/* Creates `dir` if needed and locks it for the rest of the process (the
 * descriptor stays open until exit). `what` names the folder's role in
 * messages ("logdir", "out_dir"). Returns 0, or 1 after printing why
 * (held by another process, or the folder cannot be created or written). */
int fivo_host_lock_folder(const char *dir, const char *what);

/* Locks the folder named by [section] key, or `fallback` when the key is
 * unset (nothing when both are unset). Same return as above. */
int fivo_host_lock_output(const fivo_config *cfg, const char *section, const char *key,
                          const char *fallback);

#endif
