/* Writing float32 arrays as a NumPy .npz file: a stored (uncompressed) zip
 * archive of .npy files (format 1.0), which numpy.load opens. */
#ifndef FIVO_NPZ_H
#define FIVO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_NPZ_MAX_DIMS 8

typedef struct fivo_npz_array {
    const char *name;   /* member "<name>.npy" */
    int ndim;           /* 1..FIVO_NPZ_MAX_DIMS */
    int64_t shape[FIVO_NPZ_MAX_DIMS];
    const float *data;  /* C order, prod(shape) floats */
} fivo_npz_array;

/* Writes the archive to path atomically (temp file, fsync, rename). */
fivo_status fivo_npz_write(const char *path, const fivo_npz_array *arrays, int count,
                           fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
