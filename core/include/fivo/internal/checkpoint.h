/* Checkpoints: named float32 tensors (parameters and Adam moments) plus the
 * training counters, in one versioned file with a CRC-32 per record and over
 * the whole file.
 *
 * Writing is atomic: a temp file in the same folder, fsync, rename, fsync of
 * the folder, so a crash leaves either the old or the new file, never a torn
 * one. Loading validates the whole file before touching anything; a
 * truncated or corrupted file is refused with a message naming the file and
 * what is wrong, and fivo_checkpoint_restore_latest falls back to the
 * previous file.
 *
 * File layout (little endian):
 *   "FIVOCKPT" u32 version u32 num_records
 *   u64 step u64 seed u64 adam_step f64 best_bound FLAGS u32 header_crc
 *   where FLAGS is, in version 1, a u32: 0 or bit 31 | batch_size (bits
 *   0..19) | shards (bits 20..30); in version 2 the u64 of meta.flags. A
 *   file is written as version 1 whenever its layout fits there (so it has
 *   the bytes it always had, and older fivo reads it) and as version 2 only
 *   when it does not (more than 2047 shards or a batch over 2^20 - 1).
 *   records: u32 kind u32 name_len name u32 rows u32 cols f32[rows*cols] u32 crc
 *   "FIVOEND!" u32 crc of everything before it */
#ifndef FIVO_CHECKPOINT_H
#define FIVO_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/error.h>
#include <fivo/internal/optim.h>
#include <fivo/params.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The newest version written and read (every older one is read too). */
#define FIVO_CHECKPOINT_VERSION 2u

typedef struct fivo_checkpoint_meta {
    uint64_t step;      /* training steps completed */
    uint64_t seed;      /* the run's random seed (all RNG streams derive from seed and step) */
    uint64_t adam_step; /* Adam's update count (restored into the optimizer) */
    double best_bound;  /* best validation bound so far (NaN when none) */
    uint64_t flags;     /* 0, or the training layout (fivo_checkpoint_layout) */
} fivo_checkpoint_meta;

/* The global batch and shard count of a sharded run (fivo/shards.h) in
 * meta.flags: bit 63 set, batch_size in bits 0..31, shards in bits 32..62,
 * each stored in full. A run resumes bit-exactly on any number of ranks with
 * the same two numbers. One-shard runs write 0 (the file is as before shards
 * existed). */
#define FIVO_CHECKPOINT_FLAG_LAYOUT 0x8000000000000000ull

static inline uint64_t fivo_checkpoint_layout(int batch_size, int shards)
{
    if (shards <= 1 || batch_size < 1)
        return 0;
    return FIVO_CHECKPOINT_FLAG_LAYOUT | (uint64_t)(uint32_t)batch_size |
           ((uint64_t)(uint32_t)shards << 32);
}

/* True when flags record a layout; then *batch_size and *shards hold it. */
static inline bool fivo_checkpoint_layout_get(uint64_t flags, int *batch_size, int *shards)
{
    if (!(flags & FIVO_CHECKPOINT_FLAG_LAYOUT))
        return false;
    *batch_size = (int)(uint32_t)(flags & 0xFFFFFFFFu);
    *shards = (int)(uint32_t)((flags >> 32) & 0x7FFFFFFFu);
    return true;
}

/* Writes params (and Adam moments and step when adam != NULL) to `path`
 * atomically. */
fivo_status fivo_checkpoint_save(const char *path, const fivo_params *params, fivo_adam *adam,
                                 const fivo_checkpoint_meta *meta, fivo_error *err);

/* Names under this prefix are the trainer's state kept in the parameter
 * store (the host's use_resampling_grads baseline): a store without them
 * skips them on load, so eval and sample read any training run's file,
 * and a store with them keeps its values when the file lacks them. */
#define FIVO_CHECKPOINT_TRAINER_PREFIX "train/"

/* Reads `path` into params (every parameter must be present with its shape;
 * unknown names are an error; the trainer's state is skipped where either
 * lacks it) and, when adam != NULL and the file has them,
 * the Adam moments and step. Nothing is modified unless the whole file is
 * valid. meta may be NULL. */
fivo_status fivo_checkpoint_load(const char *path, fivo_params *params, fivo_adam *adam,
                                 fivo_checkpoint_meta *meta, fivo_error *err);

/* Only validates (checksums, structure) and reads the meta. */
fivo_status fivo_checkpoint_verify(const char *path, fivo_checkpoint_meta *meta, fivo_error *err);

/* Numbered checkpoints in a folder: "<dir>/ckpt-<step, 12 digits>.fivo".
 * Saves one for meta->step and removes the oldest beyond `keep` (keep <= 0:
 * keep all). *out_path (if given) receives the file name (caller frees). */
fivo_status fivo_checkpoint_save_numbered(const char *dir, const fivo_params *params,
                                          fivo_adam *adam, const fivo_checkpoint_meta *meta,
                                          int keep, char **out_path, fivo_error *err);

/* Loads the newest valid numbered checkpoint in dir. Invalid newer files
 * are reported through fivo_log_warn (naming the file and the defect) and
 * skipped. FIVO_ERR_NOT_FOUND when dir has no numbered checkpoint at all;
 * FIVO_ERR_FORMAT when there are some but none is valid. *used_path (if
 * given) receives the file loaded (caller frees). */
fivo_status fivo_checkpoint_restore_latest(const char *dir, fivo_params *params, fivo_adam *adam,
                                           fivo_checkpoint_meta *meta, char **used_path,
                                           fivo_error *err);

/* Step numbers of the numbered checkpoints in dir, newest first; returns the
 * count (at most max). */
int fivo_checkpoint_list(const char *dir, uint64_t *steps, int max);

#ifdef __cplusplus
}
#endif
#endif
