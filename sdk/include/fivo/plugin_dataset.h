/* Dataset plugins (kind FIVO_PLUGIN_DATASET): read a split of a dataset as
 * padded, time-major batches; optionally convert raw data into dataset files.
 * Settings come from the [dataset] config section. */
#ifndef FIVO_PLUGIN_DATASET_H
#define FIVO_PLUGIN_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/report.h> /* fivo_report, filled by convert */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_dataset_info {
    int dim;                 /* D */
    const char *kind;        /* "binary" or "real" (see fivo_data_spec) */
    int num_sequences;
    int min_len, max_len;
    double mean_len;
    int64_t total_timesteps; /* sum of lengths */
    const double *mean;      /* [dim] train mean used for centring, or NULL */
    size_t struct_size;      /* (2.2) the room the host gives (fivo/abi.h, "Growing structs") */
} fivo_dataset_info;

typedef struct fivo_dataset_vtable {
    /* Opens split `split` ("train", "valid", "test") of the data at `path`.
     * REQUIRED to read data: fivo_dataset_open needs open, close, info and
     * batch. A convert-only plugin (convert set) may leave the four NULL, but
     * its vtable must still reach close: the registry refuses a shorter one
     * at load.
     * MUST validate the whole file before returning FIVO_OK and name the file
     * and position on error. MUST NOT keep `cfg` beyond the call. */
    fivo_status (*open)(const fivo_config *cfg, const char *path, const char *split, void **self,
                        fivo_error *err);
    /* MUST free everything open allocated. self may be NULL. REQUIRED with
     * open. */
    void (*close)(void *self);
    /* REQUIRED for fivo_dataset_open. Pointers in *out stay valid until close. */
    fivo_status (*info)(void *self, fivo_dataset_info *out, fivo_error *err);
    /* REQUIRED for fivo_dataset_open. Batch number `index`:
     *  shuffle = true: sequences drawn from an endless concatenation of
     *    permutations, epoch e permuted by (seed, FIVO_RNG_SHUFFLE, e); always
     *    a full batch. A pure function of (seed, index), so training resumes
     *    exactly.
     *  shuffle = false: sequences index*B .. in file order; the last batch may
     *    be smaller; FIVO_END when index is past the end.
     * The batch's memory is the dataset's, valid until the next call or close. */
    fivo_status (*batch)(void *self, int batch_size, bool shuffle, uint64_t seed, uint64_t index,
                         fivo_batch *out, fivo_error *err);
    /* OPTIONAL (may be NULL): converts raw data into this dataset's files,
     * from [dataset] settings (e.g. raw_timit_dir, out_dir). Adds its counts
     * and statistics to `report`. MUST leave no partial output on failure. */
    fivo_status (*convert)(const fivo_config *cfg, fivo_report *report, fivo_error *err);
    /* (2.0) OPTIONAL (may be NULL; the host checks FIVO_DATASET_HAS first):
     * renders one sampled sequence in this data's own medium, so the host
     * need not know what a frame means (MIDI for piano rolls, WAV for audio).
     * `frames` is [num_frames, dim] row-major in the space of the batches'
     * targets: the first prefix_frames are the conditioning data, the rest
     * the model's continuation. The plugin writes `path_stem` plus its own
     * extension (".mid", ".wav") and nothing else.
     * MUST write the file completely or not at all (temp file + rename) and
     * name the file in errors; MUST NOT keep `frames` or `path_stem`; MUST
     * return FIVO_ERR_UNSUPPORTED (with the reason) when it cannot render
     * this data (e.g. audio statistics missing), which the host reports as
     * a warning and goes on. */
    fivo_status (*write_sample)(void *self, const float *frames, int num_frames, int dim,
                                int prefix_frames, const char *path_stem, fivo_error *err);
} fivo_dataset_vtable;

typedef struct fivo_dataset {
    FIVO_PLUGIN_INSTANCE_FIELDS(fivo_dataset_vtable);
} fivo_dataset;

#define FIVO_DATASET_HAS(d, slot) FIVO_VTABLE_HAS((d)->vt, (d)->vt_size, fivo_dataset_vtable, slot)

/* The dataset's slots (see fivo_model_set_observations for the rule). */
fivo_status fivo_dataset_get_info(const fivo_dataset *d, fivo_dataset_info *out, fivo_error *err);
fivo_status fivo_dataset_read_batch(const fivo_dataset *d, int batch_size, bool shuffle,
                                    uint64_t seed, uint64_t index, fivo_batch *out,
                                    fivo_error *err);
/* (2.0) FIVO_ERR_UNSUPPORTED when the plugin has no write_sample slot. */
fivo_status fivo_dataset_write_sample(const fivo_dataset *d, const float *frames, int num_frames,
                                      int dim, int prefix_frames, const char *path_stem,
                                      fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
