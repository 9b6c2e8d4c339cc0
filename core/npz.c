/* .npz writer: zip (stored, no compression) of .npy v1.0 members. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/crc32.h>
#include <fivo/npz.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct zbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} zbuf;

static void zput(zbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
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

static void zu16(zbuf *b, uint32_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    zput(b, x, 2);
}

static void zu32(zbuf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    zput(b, x, 4);
}

/* The .npy bytes of one array (header padded so the data is 64-aligned). */
static int npy_bytes(const fivo_npz_array *a, zbuf *out)
{
    char shape[256] = "";
    size_t count = 1;
    for (int i = 0; i < a->ndim; i++) {
        char part[32];
        snprintf(part, sizeof part, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
        strncat(shape, part, sizeof shape - strlen(shape) - 1);
        count *= (size_t)a->shape[i];
    }
    if (a->ndim == 1)
        strncat(shape, ",", sizeof shape - strlen(shape) - 1); /* (n,) is a tuple */
    char header[512];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    for (int i = 0; i < pad; i++)
        header[len++] = ' ';
    header[len++] = '\n';
    zput(out, "\x93NUMPY\x01\x00", 8);
    zu16(out, (uint32_t)len);
    zput(out, header, (size_t)len);
    /* float32 little endian: this writer targets little-endian hosts. */
    zput(out, a->data, count * sizeof(float));
    return !out->oom;
}

fivo_status fivo_npz_write(const char *path, const fivo_npz_array *arrays, int count,
                           fivo_error *err)
{
    zbuf z = {0}, cd = {0};
    uint32_t entries = 0;
    for (int i = 0; i < count; i++) {
        const fivo_npz_array *a = &arrays[i];
        if (a->ndim < 1 || a->ndim > FIVO_NPZ_MAX_DIMS || !a->name || !*a->name)
            return fivo_error_set(err, FIVO_ERR_INVALID, "%s: array %d has a bad name or rank",
                                  path, i);
        for (int d = 0; d < a->ndim; d++)
            if (a->shape[d] < 0)
                return fivo_error_set(err, FIVO_ERR_INVALID, "%s: array '%s' has a negative size",
                                      path, a->name);
        zbuf npy = {0};
        if (!npy_bytes(a, &npy)) {
            free(npy.p);
            free(z.p);
            free(cd.p);
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        }
        if (npy.n > 0xFFFFFFF0u || z.n > 0xFFFFFFF0u - npy.n) {
            free(npy.p);
            free(z.p);
            free(cd.p);
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "%s: archive over 4 GiB (zip64 is not supported)", path);
        }
        char member[300];
        snprintf(member, sizeof member, "%s.npy", a->name);
        uint32_t nlen = (uint32_t)strlen(member);
        uint32_t crc = fivo_crc32_update(0, npy.p, npy.n);
        uint32_t offset = (uint32_t)z.n;
        /* Local file header; DOS time 1980-01-01 00:00 keeps output reproducible. */
        zu32(&z, 0x04034b50u);
        zu16(&z, 20);
        zu16(&z, 0);
        zu16(&z, 0);
        zu16(&z, 0);
        zu16(&z, 0x21);
        zu32(&z, crc);
        zu32(&z, (uint32_t)npy.n);
        zu32(&z, (uint32_t)npy.n);
        zu16(&z, nlen);
        zu16(&z, 0);
        zput(&z, member, nlen);
        zput(&z, npy.p, npy.n);
        /* Central directory entry. */
        zu32(&cd, 0x02014b50u);
        zu16(&cd, 20);
        zu16(&cd, 20);
        zu16(&cd, 0);
        zu16(&cd, 0);
        zu16(&cd, 0);
        zu16(&cd, 0x21);
        zu32(&cd, crc);
        zu32(&cd, (uint32_t)npy.n);
        zu32(&cd, (uint32_t)npy.n);
        zu16(&cd, nlen);
        zu16(&cd, 0);
        zu16(&cd, 0);
        zu16(&cd, 0);
        zu16(&cd, 0);
        zu32(&cd, 0);
        zu32(&cd, offset);
        zput(&cd, member, nlen);
        free(npy.p);
        entries++;
    }
    uint32_t cd_offset = (uint32_t)z.n;
    zput(&z, cd.p, cd.n);
    zu32(&z, 0x06054b50u);
    zu16(&z, 0);
    zu16(&z, 0);
    zu16(&z, entries);
    zu16(&z, entries);
    zu32(&z, (uint32_t)cd.n);
    zu32(&z, cd_offset);
    zu16(&z, 0);
    free(cd.p);
    if (z.oom || cd.oom) {
        free(z.p);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(z.p);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    fivo_status s = FIVO_OK;
    if (fd < 0) {
        s = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    } else {
        size_t off = 0;
        while (off < z.n && s == FIVO_OK) {
            ssize_t w = write(fd, z.p + off, z.n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                s = fivo_error_set(err, FIVO_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            else
                off += (size_t)w;
        }
        if (s == FIVO_OK && fsync(fd) != 0)
            s = fivo_error_set(err, FIVO_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
        close(fd);
        if (s == FIVO_OK && rename(tmp, path) != 0)
            s = fivo_error_set(err, FIVO_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        if (s != FIVO_OK)
            unlink(tmp);
    }
    free(tmp);
    free(z.p);
    return s;
}
