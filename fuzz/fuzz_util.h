/* Helpers shared by the fuzz targets: a cursor over the fuzzer's bytes and
 * a per-process scratch file for readers that take a path. */
#ifndef FIVO_FUZZ_UTIL_H
#define FIVO_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct fuzz_cursor {
    const uint8_t *p;
    size_t n;
} fuzz_cursor;

static inline uint8_t fuzz_u8(fuzz_cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

static inline uint32_t fuzz_u32(fuzz_cursor *c)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fuzz_u8(c);
    return v;
}

/* A NUL-terminated string of up to `max` bytes taken from the input (ends
 * at a NUL byte or at `max`); malloc'd. */
static inline char *fuzz_string(fuzz_cursor *c, size_t max)
{
    size_t len = 0;
    while (len < max && len < c->n && c->p[len] != 0)
        len++;
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    memcpy(s, c->p, len);
    s[len] = 0;
    size_t used = len < c->n ? len + 1 : len;
    c->p += used;
    c->n -= used;
    return s;
}

/* Puts data in this process's scratch file and returns a path to it. The
 * file is a memfd (no disk: a disk file truncated and rewritten per input
 * costs a flush each time) reopened through /proc/self/fd. */
static inline const char *fuzz_write_scratch(const char *tag, const uint8_t *data, size_t n)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create(tag, 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (n > 0 && pwrite(fd, data, n, 0) != (ssize_t)n))
        abort();
    return path;
}

#endif
