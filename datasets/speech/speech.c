/* Dataset plugin "speech": TFRecord files whose records are the raw float32
 * samples of one utterance, cut into timesteps of samples_per_timestep
 * (200 for TIMIT), as create_timit_dataset.py writes them.
 *
 * Paths follow the reference: dataset_path is the TFRecord file itself
 * (the split is then only a label); a folder is read as <folder>/<split>
 * (the converter's output names), or <folder>/<split>.tfrecord.
 *
 * Batches: targets are the frames, inputs the frames one step later in
 * time, zero at t = 0 and past each length (no centring: the converter
 * already standardised the audio).
 *
 * Samples (write_sample) become 16-bit WAV files, de-standardised with the
 * train mean and std the converter wrote to stats.json beside the split
 * files; without that file there is no audio, only samples.npz. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fivo/batcher.h>
#include <fivo/options.h>
#include <fivo/plugin_dataset.h>
#include <fivo/tfrecord.h>

#include "audio.h"

typedef struct speech {
    fivo_tfrecord_reader *reader; /* keeps the file mapped */
    int dim;
    int32_t n;
    const uint8_t **rec; /* [n] record data (unaligned) */
    int32_t *len;        /* [n] timesteps */
    fivo_dataset_info info;
    fivo_batcher *batcher;
    int sample_rate;     /* Hz of WAV samples */
    bool has_stats;      /* stats.json found beside the split file */
    double mean, std;    /* its train mean and std, in raw sample units */
    char stats_path[4096];
} speech;

static const fivo_option OPTIONS[] = {
    /* No declared default: unset, it follows data_dimension, else 200. */
    {"samples_per_timestep", FIVO_OPTION_INT, NULL,
     "audio samples per timestep, the data dimension (default: data_dimension, else 200)", NULL, "1", NULL},
    {"data_dimension", FIVO_OPTION_INT, NULL,
     "the reference's name for samples_per_timestep; the two must agree", NULL, "1", NULL},
    {"sample_rate", FIVO_OPTION_INT, "16000", "sampling rate (Hz) of WAV samples", NULL, "1", NULL},
};

static void sp_close(void *self)
{
    speech *d = self;
    if (d == NULL)
        return;
    fivo_tfrecord_reader_close(d->reader);
    free(d->rec);
    free(d->len);
    fivo_batcher_destroy(d->batcher);
    free(d);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* [dataset] samples_per_timestep and sample_rate, checked. The reference
 * passes --data_dimension as samples_per_timestep; an explicit
 * samples_per_timestep wins, and the two must agree. */
static fivo_status read_options(const fivo_config *cfg, long *spt, long *rate, fivo_error *err)
{
    long dd = 0;
    *spt = 200;
    *rate = 16000;
    if (cfg != NULL) {
        if (fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "sample_rate", rate,
                            err) != FIVO_OK)
            return err ? err->code : FIVO_ERR_INVALID;
        if (fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "data_dimension", &dd,
                            err) != FIVO_OK)
            return err ? err->code : FIVO_ERR_INVALID;
        *spt = dd > 0 ? dd : 200; /* the row declares no default: this is it */
        if (fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "samples_per_timestep",
                            spt, err) != FIVO_OK)
            return err ? err->code : FIVO_ERR_INVALID;
        if (dd > 0 && dd != *spt)
            return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] data_dimension=%ld but "
                                  "samples_per_timestep=%ld: they must agree for speech", dd,
                                  *spt);
    }
    if (*spt <= 0 || *spt > (1 << 20))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[dataset] samples_per_timestep=%ld: must be in 1..%d", *spt, 1 << 20);
    if (*rate < 1 || *rate > 1000000)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] sample_rate=%ld: must be in "
                              "1..1000000", *rate);
    return FIVO_OK;
}

enum { FILE_CAP = 4096 };

/* The split's file: `path` itself, or <path>/<split> (or .tfrecord) when
 * path is a folder. file: FILE_CAP bytes. */
static fivo_status split_file(const char *path, const char *split, char *file, fivo_error *err)
{
    if (is_dir(path)) {
        char alt[FILE_CAP];
        if (snprintf(file, FILE_CAP, "%s/%s", path, split ? split : "train") >=
                (int)FILE_CAP ||
            snprintf(alt, sizeof alt, "%s.tfrecord", file) >= (int)sizeof alt)
            return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", path);
        if (!is_file(file)) {
            if (!is_file(alt))
                return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no split file '%s' or '%s'",
                                      path, file, alt);
            memcpy(file, alt, FILE_CAP);
        }
    } else if (snprintf(file, FILE_CAP, "%s", path) >= (int)FILE_CAP) {
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", path);
    }
    return FIVO_OK;
}

/* Every record of the file: where it starts and its timesteps of d->dim
 * samples. */
static fivo_status index_records(speech *d, const char *file, fivo_error *err)
{
    fivo_status st = FIVO_OK;
    size_t cap = 0;
    const size_t frame_bytes = (size_t)d->dim * sizeof(float);
    while (st == FIVO_OK) {
        const uint8_t *data;
        size_t n;
        uint64_t at = fivo_tfrecord_reader_offset(d->reader);
        st = fivo_tfrecord_reader_next(d->reader, &data, &n, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        if (n == 0 || n % frame_bytes != 0 || n / frame_bytes > INT32_MAX) {
            st = fivo_error_set(err, FIVO_ERR_FORMAT,
                                "%s: record %d at offset %llu: %zu bytes is not a positive "
                                "whole number of timesteps of %ld float32 samples "
                                "(samples_per_timestep)",
                                file, d->n, (unsigned long long)at, n, (long)d->dim);
            break;
        }
        if ((size_t)d->n == cap) {
            cap = cap ? cap * 2 : 1024;
            const uint8_t **r = realloc(d->rec, cap * sizeof *r);
            if (r != NULL)
                d->rec = r;
            int32_t *l = realloc(d->len, cap * sizeof *l);
            if (l != NULL)
                d->len = l;
            if (r == NULL || l == NULL) {
                st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", file);
                break;
            }
        }
        d->rec[d->n] = data;
        d->len[d->n] = (int32_t)(n / frame_bytes);
        d->n++;
    }
    return st;
}

static fivo_status sp_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    *self = NULL;
    long spt = 0, rate = 0;
    fivo_status st = read_options(cfg, &spt, &rate, err);
    if (st != FIVO_OK)
        return st;
    if (path == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "speech: dataset path needed");
    char file[FILE_CAP];
    if ((st = split_file(path, split, file, err)) != FIVO_OK)
        return st;
    speech *d = calloc(1, sizeof *d);
    if (d == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", file);
    d->dim = (int)spt;
    d->sample_rate = (int)rate;
    /* stats.json sits beside the split files (the converter's out_dir). */
    const char *slash = strrchr(file, '/');
    int dir_len = slash != NULL ? (int)(slash - file) : 1;
    snprintf(d->stats_path, sizeof d->stats_path, "%.*s/stats.json", dir_len,
             slash != NULL ? file : ".");
    st = sp_read_stats(d->stats_path, &d->mean, &d->std, err);
    d->has_stats = st == FIVO_OK;
    if (st == FIVO_ERR_NOT_FOUND) {
        fivo_error_clear(err);
        st = FIVO_OK;
    }
    if (st == FIVO_OK)
        st = fivo_tfrecord_reader_open(file, &d->reader, err);
    if (st == FIVO_OK)
        st = index_records(d, file, err);
    if (st == FIVO_OK)
        st = fivo_batcher_create("speech", d->n, d->len, d->dim, &d->batcher, err);
    if (st != FIVO_OK) {
        sp_close(d);
        return st;
    }
    fivo_dataset_info *in = &d->info;
    in->dim = d->dim;
    in->kind = "real";
    in->num_sequences = d->n;
    in->mean = NULL;
    for (int32_t s = 0; s < d->n; s++) {
        if (s == 0 || d->len[s] < in->min_len)
            in->min_len = d->len[s];
        if (d->len[s] > in->max_len)
            in->max_len = d->len[s];
        in->total_timesteps += d->len[s];
    }
    in->mean_len = d->n > 0 ? (double)in->total_timesteps / d->n : 0.0;
    *self = d;
    return FIVO_OK;
}

static fivo_status sp_info(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)err;
    *out = ((speech *)self)->info;
    return FIVO_OK;
}

static fivo_status sp_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    speech *d = self;
    float *targets;
    fivo_status st =
        fivo_batcher_begin(d->batcher, batch_size, shuffle, seed, index, out, &targets, err);
    if (st != FIVO_OK)
        return st;
    size_t frame = (size_t)d->dim * sizeof(float);
    for (int i = 0; i < out->batch_size; i++) {
        const uint8_t *src = d->rec[out->seq_ids[i]];
        for (int t = 0; t < out->lengths[i]; t++) /* little-endian host */
            memcpy(targets + ((size_t)t * (size_t)out->batch_size + (size_t)i) * (size_t)d->dim,
                   src + (size_t)t * frame, frame);
    }
    fivo_batcher_shift(d->batcher, NULL); /* no centring: the converter standardised */
    return FIVO_OK;
}

/* Samples as WAV: the frames' samples in order, de-standardised. */
static fivo_status sp_write_sample(void *self, const float *frames, int num_frames, int dim,
                                   int prefix_frames, const char *path_stem, fivo_error *err)
{
    const speech *d = self;
    (void)prefix_frames;
    if (!d->has_stats)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "no %s (the timit converter writes it) "
                              "to de-standardise audio; no WAV", d->stats_path);
    char path[4096];
    if (snprintf(path, sizeof path, "%s.wav", path_stem) >= (int)sizeof path)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", path_stem);
    return sp_write_wav(path, frames, (long)num_frames * dim, d->sample_rate, d->mean, d->std,
                        err);
}

static const fivo_dataset_vtable VTABLE = {
    .open = sp_open,
    .close = sp_close,
    .info = sp_info,
    .batch = sp_batch,
    .convert = NULL,
    .write_sample = sp_write_sample,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "speech",
    .version = "1.0.0",
    .description = "raw float32 audio frames in TFRecord files (TIMIT as the reference "
                   "converts it)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
