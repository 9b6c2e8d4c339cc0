/* Atomic whole-file writes (see fivo/atomic_file.h). */
#define _POSIX_C_SOURCE 200809L
#include <fivo/atomic_file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fivo_atomic_file {
    char *path, *tmp;
    int fd;
    int write_errno; /* first failed write, reported again by commit */
};

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    char *d = malloc((size_t)(slash - path) + 1);
    if (d) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = 0;
    }
    return d;
}

static void release(fivo_atomic_file *f, bool remove_temp)
{
    if (f->fd >= 0)
        close(f->fd);
    if (remove_temp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    free(f);
}

fivo_status fivo_atomic_file_open(const char *path, fivo_atomic_file **out, fivo_error *err)
{
    *out = NULL;
    fivo_atomic_file *f = calloc(1, sizeof *f);
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    char *dup = strdup(path);
    if (f == NULL || tmp == NULL || dup == NULL) {
        free(f);
        free(tmp);
        free(dup);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp); /* unique: two writers of one path never share a temp file */
    if (fd < 0) {
        fivo_status s = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create a temp file: %s",
                                       path, strerror(errno));
        free(f);
        free(tmp);
        free(dup);
        return s;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; these are ordinary output files */
    f->path = dup;
    f->tmp = tmp;
    f->fd = fd;
    *out = f;
    return FIVO_OK;
}

int fivo_atomic_file_fd(const fivo_atomic_file *f) { return f->fd; }

fivo_status fivo_atomic_file_write(fivo_atomic_file *f, const void *data, size_t n,
                                   fivo_error *err)
{
    const unsigned char *p = data;
    size_t off = 0;
    while (f->write_errno == 0 && off < n) {
        ssize_t w = write(f->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            f->write_errno = w < 0 && errno != 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    /* Messages name the destination (what the user asked for); the temp
     * file is removed by commit or abort, the destination never touched. */
    if (f->write_errno != 0)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: write failed: %s (temp file removed)",
                              f->path, strerror(f->write_errno));
    return FIVO_OK;
}

fivo_status fivo_atomic_file_commit(fivo_atomic_file *f, fivo_error *err)
{
    fivo_status s = FIVO_OK;
    if (f->write_errno != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: write failed: %s (temp file removed)", f->path,
                           strerror(f->write_errno));
    else if (fsync(f->fd) != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: fsync failed: %s (temp file removed)", f->path,
                           strerror(errno));
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0 && s == FIVO_OK)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: close failed: %s (temp file removed)", f->path,
                           strerror(errno));
    if (s == FIVO_OK && rename(f->tmp, f->path) != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: rename from %s failed: %s", f->path, f->tmp,
                           strerror(errno));
    if (s != FIVO_OK) {
        release(f, true);
        return s;
    }
    /* Make the rename itself durable. */
    char *dir = dir_of(f->path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    release(f, false);
    return FIVO_OK;
}

void fivo_atomic_file_abort(fivo_atomic_file *f)
{
    if (f != NULL)
        release(f, true);
}

fivo_status fivo_file_write_atomic(const char *path, const void *data, size_t n, fivo_error *err)
{
    fivo_atomic_file *f;
    fivo_status s = fivo_atomic_file_open(path, &f, err);
    if (s != FIVO_OK)
        return s;
    if ((s = fivo_atomic_file_write(f, data, n, err)) != FIVO_OK) {
        fivo_atomic_file_abort(f);
        return s;
    }
    return fivo_atomic_file_commit(f, err);
}
