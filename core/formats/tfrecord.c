/* TFRecord reader (mmap, every CRC checked) and writer (temp file + rename).
 * See fivo/tfrecord.h for the framing. Little-endian on disk, whatever the host. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/tfrecord.h>

#include "crc_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct fivo_tfrecord_reader {
    char *path;
    const uint8_t *map;
    size_t size;
    size_t pos;
    uint64_t count;
};

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

fivo_status fivo_tfrecord_reader_open(const char *path, fivo_tfrecord_reader **out,
                                      fivo_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fivo_error_set(err, errno == ENOENT ? FIVO_ERR_NOT_FOUND : FIVO_ERR_IO,
                              "%s: cannot open TFRecord file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: not a regular file", path);
    }
    fivo_tfrecord_reader *r = calloc(1, sizeof *r);
    char *copy = r ? malloc(strlen(path) + 1) : NULL;
    if (r == NULL || copy == NULL) {
        free(r);
        close(fd);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(copy, path);
    r->path = copy;
    r->size = (size_t)st.st_size;
    if (r->size > 0) {
        void *m = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(r->path);
            free(r);
            return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot map file: %s", path, strerror(e));
        }
        r->map = m;
    }
    close(fd);
    *out = r;
    return FIVO_OK;
}

fivo_status fivo_tfrecord_reader_next(fivo_tfrecord_reader *r, const uint8_t **data, size_t *len,
                                      fivo_error *err)
{
    if (r->pos == r->size)
        return FIVO_END;
    size_t left = r->size - r->pos;
    const uint8_t *h = r->map + r->pos;
    if (left < 12)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: record %llu at offset %zu: truncated header (%zu of 12 bytes)",
                              r->path, (unsigned long long)r->count, r->pos, left);
    uint64_t n = load_le64(h);
    if (FIVO_CRC_MISMATCH(fivo_crc32c_mask(fivo_crc32c(h, 8)), load_le32(h + 8)))
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: record %llu at offset %zu: length CRC mismatch (corrupt file)",
                              r->path, (unsigned long long)r->count, r->pos);
    if (n > left - 12 || left - 12 - n < 4)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: record %llu at offset %zu: truncated record (length %llu, "
                              "%zu bytes left)",
                              r->path, (unsigned long long)r->count, r->pos,
                              (unsigned long long)n, left - 12);
    const uint8_t *d = h + 12;
    if (FIVO_CRC_MISMATCH(fivo_crc32c_mask(fivo_crc32c(d, (size_t)n)), load_le32(d + n)))
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: record %llu at offset %zu: data CRC mismatch (corrupt file)",
                              r->path, (unsigned long long)r->count, r->pos);
    *data = d;
    *len = (size_t)n;
    r->pos += 12 + (size_t)n + 4;
    r->count++;
    return FIVO_OK;
}

uint64_t fivo_tfrecord_reader_offset(const fivo_tfrecord_reader *r) { return r->pos; }

void fivo_tfrecord_reader_close(fivo_tfrecord_reader *r)
{
    if (r == NULL)
        return;
    if (r->map != NULL)
        munmap((void *)r->map, r->size);
    free(r->path);
    free(r);
}

struct fivo_tfrecord_writer {
    char *path;
    char *tmp;
    FILE *f;
    uint64_t count;
};

fivo_status fivo_tfrecord_writer_open(const char *path, fivo_tfrecord_writer **out,
                                      fivo_error *err)
{
    *out = NULL;
    fivo_tfrecord_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (w == NULL || (w->path = malloc(n + 1)) == NULL || (w->tmp = malloc(n + 16)) == NULL) {
        if (w)
            free(w->path);
        free(w);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, n + 1);
    snprintf(w->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(w->tmp);
    if (fd < 0) {
        int e = errno;
        free(w->tmp);
        free(w->path);
        free(w);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create temporary file: %s", path,
                              strerror(e));
    }
    fchmod(fd, 0644);
    w->f = fdopen(fd, "wb");
    if (w->f == NULL) {
        close(fd);
        unlink(w->tmp);
        free(w->tmp);
        free(w->path);
        free(w);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot open temporary file", path);
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    *out = w;
    return FIVO_OK;
}

fivo_status fivo_tfrecord_writer_write(fivo_tfrecord_writer *w, const void *data, size_t len,
                                       fivo_error *err)
{
    uint8_t head[12], tail[4];
    store_le64(head, (uint64_t)len);
    store_le32(head + 8, fivo_crc32c_mask(fivo_crc32c(head, 8)));
    store_le32(tail, fivo_crc32c_mask(fivo_crc32c(data, len)));
    if (fwrite(head, 1, 12, w->f) != 12 || (len > 0 && fwrite(data, 1, len, w->f) != len) ||
        fwrite(tail, 1, 4, w->f) != 4)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: writing record %llu failed: %s", w->path,
                              (unsigned long long)w->count, strerror(errno));
    w->count++;
    return FIVO_OK;
}

static void writer_free(fivo_tfrecord_writer *w)
{
    free(w->tmp);
    free(w->path);
    free(w);
}

fivo_status fivo_tfrecord_writer_commit(fivo_tfrecord_writer *w, fivo_error *err)
{
    fivo_status st = FIVO_OK;
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: flushing failed: %s", w->path, strerror(errno));
    if (fclose(w->f) != 0 && st == FIVO_OK)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: closing failed: %s", w->path, strerror(errno));
    if (st == FIVO_OK && rename(w->tmp, w->path) != 0)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot rename %s into place: %s", w->path,
                            w->tmp, strerror(errno));
    if (st != FIVO_OK)
        unlink(w->tmp);
    writer_free(w);
    return st;
}

void fivo_tfrecord_writer_abort(fivo_tfrecord_writer *w)
{
    if (w == NULL)
        return;
    fclose(w->f);
    unlink(w->tmp);
    writer_free(w);
}
