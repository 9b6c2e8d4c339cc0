/* TFRecord files and CRC32C (Castagnoli), as written and read by TensorFlow.
 *
 * A record is: uint64 length (little-endian), uint32 masked CRC32C of those
 * 8 bytes, `length` bytes of data, uint32 masked CRC32C of the data, where
 * mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8.
 *
 * The reader maps the whole file and verifies every length and CRC as it
 * goes; errors name the file, the record number and its byte offset. The
 * writer writes to a temporary file next to the target and renames it over
 * the target only on commit, so a failure never leaves partial output. */
#ifndef FIVO_TFRECORD_H
#define FIVO_TFRECORD_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC32C of n bytes, continuing from `crc` (0 to start). */
uint32_t fivo_crc32c_extend(uint32_t crc, const void *data, size_t n);
static inline uint32_t fivo_crc32c(const void *data, size_t n)
{
    return fivo_crc32c_extend(0, data, n);
}
/* TensorFlow's masking of stored CRCs. */
static inline uint32_t fivo_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ---- reading ------------------------------------------------------------ */
typedef struct fivo_tfrecord_reader fivo_tfrecord_reader;

fivo_status fivo_tfrecord_reader_open(const char *path, fivo_tfrecord_reader **out,
                                      fivo_error *err);
/* The next record: *data points into the mapped file (no alignment promised)
 * and stays valid until close. FIVO_END after the last record; FIVO_ERR_FORMAT
 * for a truncated record or a CRC mismatch. */
fivo_status fivo_tfrecord_reader_next(fivo_tfrecord_reader *r, const uint8_t **data, size_t *len,
                                      fivo_error *err);
/* Byte offset of the next record header. */
uint64_t fivo_tfrecord_reader_offset(const fivo_tfrecord_reader *r);
void fivo_tfrecord_reader_close(fivo_tfrecord_reader *r); /* r may be NULL */

/* ---- writing ------------------------------------------------------------ */
typedef struct fivo_tfrecord_writer fivo_tfrecord_writer;

/* Creates a temporary file in the target's folder. */
fivo_status fivo_tfrecord_writer_open(const char *path, fivo_tfrecord_writer **out,
                                      fivo_error *err);
fivo_status fivo_tfrecord_writer_write(fivo_tfrecord_writer *w, const void *data, size_t len,
                                       fivo_error *err);
/* Flushes, fsyncs and renames the temporary file onto the target, then frees
 * w (also on failure, after removing the temporary file). */
fivo_status fivo_tfrecord_writer_commit(fivo_tfrecord_writer *w, fivo_error *err);
/* Removes the temporary file and frees w (w may be NULL). */
void fivo_tfrecord_writer_abort(fivo_tfrecord_writer *w);

#ifdef __cplusplus
}
#endif
#endif
