/* Private to libfivo: a growing little-endian byte buffer, shared by the
 * checkpoint and .npz writers (which write it with fivo_file_write_atomic). */
#ifndef FIVO_CORE_BYTES_H
#define FIVO_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#define FIVO_BYTES_INTERNAL __attribute__((visibility("hidden")))

/* Zero-initialise; after an allocation failure every put is a no-op and oom
 * stays set, so a writer checks once at the end. Free p when done. */
typedef struct fivo__bytes {
    unsigned char *p;
    size_t n, cap;
    int oom;
} fivo__bytes;

FIVO_BYTES_INTERNAL void fivo__bytes_put(fivo__bytes *b, const void *src, size_t n);
/* Explicit byte order, so files move between machines. */
FIVO_BYTES_INTERNAL void fivo__bytes_u16(fivo__bytes *b, uint32_t v);
FIVO_BYTES_INTERNAL void fivo__bytes_u32(fivo__bytes *b, uint32_t v);
FIVO_BYTES_INTERNAL void fivo__bytes_u64(fivo__bytes *b, uint64_t v);

#endif
