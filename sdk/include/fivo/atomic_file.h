/* Whole-file writes that never leave a truncated file behind: the bytes go
 * to a unique temp file in the destination's folder ("<path>.tmpXXXXXX",
 * mode 0644), which is fsynced, renamed over the destination, and the
 * rename made durable by an fsync of the folder. A crash at any point
 * leaves the destination as it was (old contents, or absent) or complete.
 * On any failure the temp file is removed, the destination is untouched,
 * and the message names the destination and the step that failed.
 *
 * Every writer of output files uses it: checkpoints, samples.npz, MIDI and
 * WAV samples, the TIMIT converter's stats.json. */
#ifndef FIVO_ATOMIC_FILE_H
#define FIVO_ATOMIC_FILE_H

#include <stddef.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The whole of data[0..n) as path, in one call. */
fivo_status fivo_file_write_atomic(const char *path, const void *data, size_t n, fivo_error *err);

/* A file written in pieces, or by a library that wants a file descriptor
 * (libsndfile's sf_open_fd): open, write or use the fd, then commit (or
 * abort). commit and abort free the handle. */
typedef struct fivo_atomic_file fivo_atomic_file;

/* Creates the temp file for path; *out is NULL on error. */
fivo_status fivo_atomic_file_open(const char *path, fivo_atomic_file **out, fivo_error *err);
/* The temp file's descriptor (owned by f: do not close it). */
int fivo_atomic_file_fd(const fivo_atomic_file *f);
/* Appends data[0..n), retrying short writes and EINTR. A failure is
 * remembered: the commit then fails (and removes the temp file). */
fivo_status fivo_atomic_file_write(fivo_atomic_file *f, const void *data, size_t n,
                                   fivo_error *err);
/* fsync, close, rename over the destination, fsync of the folder; frees f.
 * On failure the temp file is removed. */
fivo_status fivo_atomic_file_commit(fivo_atomic_file *f, fivo_error *err);
/* Closes and removes the temp file and frees f; NULL is fine. */
void fivo_atomic_file_abort(fivo_atomic_file *f);

#ifdef __cplusplus
}
#endif
#endif
