/* Byte buffer (see bytes.h). */
#define _POSIX_C_SOURCE 200809L
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

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
