/* Byte buffer and atomic file write (see bytes.h). */
#define _POSIX_C_SOURCE 200809L
#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fivo__bytes_put(fivo__bytes *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

void fivo__bytes_u16(fivo__bytes *b, uint32_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    fivo__bytes_put(b, x, 2);
}

void fivo__bytes_u32(fivo__bytes *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fivo__bytes_put(b, x, 4);
}

void fivo__bytes_u64(fivo__bytes *b, uint64_t v)
{
    fivo__bytes_u32(b, (uint32_t)v);
    fivo__bytes_u32(b, (uint32_t)(v >> 32));
}

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

/* Writes all of data to fd, retrying short writes and EINTR. */
static int write_all(int fd, const unsigned char *data, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno ? errno : EIO;
        off += (size_t)w;
    }
    return 0;
}

fivo_status fivo__write_atomic(const char *path, const void *data, size_t n, fivo_error *err)
{
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    if (!tmp)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, plen, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fivo_status s = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create a temp file: %s",
                                       path, strerror(errno));
        free(tmp);
        return s;
    }
    fivo_status s = FIVO_OK;
    int e;
    fchmod(fd, 0644); /* mkstemp makes 0600; these are ordinary output files */
    /* Messages name the destination (what the user asked for); the temp
     * file is removed below, the previous destination is never touched. */
    if ((e = write_all(fd, data, n)) != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: write failed: %s (temp file removed)", path,
                           strerror(e));
    else if (fsync(fd) != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: fsync failed: %s (temp file removed)", path,
                           strerror(errno));
    if (close(fd) != 0 && s == FIVO_OK)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: close failed: %s (temp file removed)", path,
                           strerror(errno));
    if (s == FIVO_OK && rename(tmp, path) != 0)
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: rename from %s failed: %s", path, tmp,
                           strerror(errno));
    if (s != FIVO_OK) {
        unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dir = dir_of(path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    return FIVO_OK;
}
