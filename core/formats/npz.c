/* .npz writer: zip (stored, no compression) of .npy v1.0 members. */
#include "bytes.h"

#include <fivo/atomic_file.h>
#include <fivo/internal/crc32.h>
#include <fivo/internal/npz.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The .npy bytes of one array (header padded so the data is 64-aligned). */
static int npy_bytes(const fivo_npz_array *a, fivo__bytes *out)
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
    fivo__bytes_put(out, "\x93NUMPY\x01\x00", 8);
    fivo__bytes_u16(out, (uint32_t)len);
    fivo__bytes_put(out, header, (size_t)len);
    /* float32 little endian: this writer targets little-endian hosts. */
    fivo__bytes_put(out, a->data, count * sizeof(float));
    return !out->oom;
}

/* The fields a zip local header and central directory entry share, from
 * "version needed" to "extra length": stored (no compression), DOS time
 * 1980-01-01 00:00 so the output is reproducible. */
static void zip_entry_fields(fivo__bytes *b, uint32_t crc, uint32_t size, uint32_t name_len)
{
    fivo__bytes_u16(b, 20);   /* version needed: 2.0 */
    fivo__bytes_u16(b, 0);    /* flags */
    fivo__bytes_u16(b, 0);    /* method: stored */
    fivo__bytes_u16(b, 0);    /* time */
    fivo__bytes_u16(b, 0x21); /* date: 1980-01-01 */
    fivo__bytes_u32(b, crc);
    fivo__bytes_u32(b, size); /* compressed */
    fivo__bytes_u32(b, size); /* uncompressed */
    fivo__bytes_u16(b, name_len);
    fivo__bytes_u16(b, 0);    /* extra length */
}

fivo_status fivo_npz_write(const char *path, const fivo_npz_array *arrays, int count,
                           fivo_error *err)
{
    fivo__bytes z = {0}, cd = {0};
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
        fivo__bytes npy = {0};
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
        /* Local file header, then the central directory entry. */
        fivo__bytes_u32(&z, 0x04034b50u);
        zip_entry_fields(&z, crc, (uint32_t)npy.n, nlen);
        fivo__bytes_put(&z, member, nlen);
        fivo__bytes_put(&z, npy.p, npy.n);
        fivo__bytes_u32(&cd, 0x02014b50u);
        fivo__bytes_u16(&cd, 20); /* made by: version 2.0 */
        zip_entry_fields(&cd, crc, (uint32_t)npy.n, nlen);
        fivo__bytes_u16(&cd, 0); /* comment length */
        fivo__bytes_u16(&cd, 0); /* disk number */
        fivo__bytes_u16(&cd, 0); /* internal attributes */
        fivo__bytes_u32(&cd, 0); /* external attributes */
        fivo__bytes_u32(&cd, offset);
        fivo__bytes_put(&cd, member, nlen);
        free(npy.p);
        entries++;
    }
    uint32_t cd_offset = (uint32_t)z.n;
    fivo__bytes_put(&z, cd.p, cd.n);
    fivo__bytes_u32(&z, 0x06054b50u);
    fivo__bytes_u16(&z, 0);
    fivo__bytes_u16(&z, 0);
    fivo__bytes_u16(&z, entries);
    fivo__bytes_u16(&z, entries);
    fivo__bytes_u32(&z, (uint32_t)cd.n);
    fivo__bytes_u32(&z, cd_offset);
    fivo__bytes_u16(&z, 0);
    free(cd.p);
    if (z.oom || cd.oom) {
        free(z.p);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    fivo_status s = fivo_file_write_atomic(path, z.p, z.n, err);
    free(z.p);
    return s;
}
