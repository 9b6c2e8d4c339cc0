/* Exclusive folder lock (see logdir_lock.h). */
#define _DEFAULT_SOURCE
#include <fivo/internal/comm.h>
#include <fivo/internal/log.h>

#include "logdir_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <stdbool.h>

#define LOCK_NAME ".fivo.lock"

/* The pid the holder wrote, or 0. The holder truncates and writes its pid
 * right after it gets the lock, so a reader may briefly see an empty file:
 * retry for up to ~200 ms before saying the pid is unknown. */
static long holder_pid(int fd)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            char *end = NULL;
            long pid = strtol(buf, &end, 10);
            if (end != buf && pid > 0)
                return pid;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* A temp file of fivo's atomic writers: <name>.tmpXXXXXX (checkpoints,
 * best.fivo, samples.npz) or <split>.tmp.XXXXXX (convert's TFRecords). */
static bool is_stale_temp(const char *name)
{
    const char *t = strstr(name, ".tmp");
    if (t == NULL || t == name)
        return false;
    const char *x = t[4] == '.' ? t + 5 : t + 4;
    if (strlen(x) != 6)
        return false;
    size_t base = (size_t)(t - name);
    bool ours = (base > 5 && strncmp(t - 5, ".fivo", 5) == 0) ||
                (base > 4 && strncmp(t - 4, ".npz", 4) == 0) ||
                (base == 5 && (strncmp(name, "train", 5) == 0 || strncmp(name, "valid", 5) == 0)) ||
                (base == 4 && strncmp(name, "test", 4) == 0);
    return ours;
}

/* With the lock held no other writer exists, so temp files in the folder
 * were left by a writer that was killed mid-write: remove them. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_stale_temp(e->d_name))
            continue;
        char *p = g_build_filename(dir, e->d_name, NULL);
        if (unlink(p) == 0)
            fivo_log_info("removed %s (a temp file left by a killed writer)", p);
        g_free(p);
    }
    closedir(d);
}

static int lock_here(const char *dir, const char *what)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fprintf(stderr, "fivo: error: %s %s: cannot create the folder: %s\n", what, dir,
                g_strerror(errno));
        return 1;
    }
    char *path = g_build_filename(dir, LOCK_NAME, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "fivo: error: %s %s: cannot create the lock file %s: %s\n", what, dir,
                path, g_strerror(errno));
        g_free(path);
        return 1;
    }
    int r;
    while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (r != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            long pid = holder_pid(fd);
            if (pid > 0)
                fprintf(stderr,
                        "fivo: error: %s %s is in use by another fivo process (pid %ld holds "
                        "%s); one writer per folder\n",
                        what, dir, pid, path);
            else
                fprintf(stderr,
                        "fivo: error: %s %s is in use by another fivo process (pid unknown, "
                        "it holds %s); one writer per folder\n",
                        what, dir, path);
        } else {
            fprintf(stderr, "fivo: error: %s %s: cannot lock %s: %s\n", what, dir, path,
                    g_strerror(e));
        }
        close(fd);
        g_free(path);
        return 1;
    }
    /* Ours: record the pid for whoever is refused next. */
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != (ssize_t)len) {
        fprintf(stderr, "fivo: error: %s %s: cannot write the lock file %s: %s\n", what, dir,
                path, g_strerror(errno));
        close(fd);
        g_free(path);
        return 1;
    }
    g_free(path);
    remove_stale_temps(dir);
    /* fd stays open: the lock lasts until the process exits. */
    return 0;
}

int fivo_host_lock_folder(const char *dir, const char *what)
{
    /* Under MPI rank 0 alone writes files, so it alone holds the lock; the
     * others learn whether it got it, and all stop together if not (rank 0
     * printed why). */
    int rc = fivo_comm_rank() == 0 ? lock_here(dir, what) : 0;
    fivo_error err = {0};
    if (rc != 0)
        fivo_error_set(&err, FIVO_ERR_IO, "%s %s: not locked (see above)", what, dir);
    return fivo_comm_agree(rc != 0 ? FIVO_ERR_IO : FIVO_OK, &err, NULL, 0) == FIVO_OK ? 0 : 1;
}

int fivo_host_lock_output(const fivo_config *cfg, const char *section, const char *key,
                          const char *fallback)
{
    const char *dir = NULL;
    fivo_config_string_or(cfg, section, key, NULL, &dir, NULL);
    if (dir != NULL && dir[0] != '\0')
        return fivo_host_lock_folder(dir, key);
    return fallback != NULL ? fivo_host_lock_folder(fallback, "logdir") : 0;
}
