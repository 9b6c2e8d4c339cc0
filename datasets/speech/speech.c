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
 * already standardised the audio). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fivo/plugin_dataset.h>
#include <fivo/rng.h>
#include <fivo/shuffle.h>
#include <fivo/tfrecord.h>

typedef struct speech {
    fivo_tfrecord_reader *reader; /* keeps the file mapped */
    int dim;
    int32_t n;
    const uint8_t **rec; /* [n] record data (unaligned) */
    int32_t *len;        /* [n] timesteps */
    fivo_dataset_info info;
    float *inputs, *targets;
    size_t cap_values;
    int32_t *lengths, *ids;
    int cap_rows;
    int32_t *perm[2];
    uint64_t perm_epoch[2];
    bool perm_ok[2];
} speech;

static const fivo_option sp_options[] = {
    {"samples_per_timestep", FIVO_OPTION_INT, "200", "audio samples per timestep (data dimension)"},
};

static void sp_close(void *self)
{
    speech *d = self;
    if (d == NULL)
        return;
    fivo_tfrecord_reader_close(d->reader);
    free(d->rec);
    free(d->len);
    free(d->inputs);
    free(d->targets);
    free(d->lengths);
    free(d->ids);
    free(d->perm[0]);
    free(d->perm[1]);
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

static fivo_status sp_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    *self = NULL;
    long spt = 200;
    if (cfg != NULL &&
        fivo_config_int_or(cfg, "dataset", "samples_per_timestep", 200, &spt, err) != FIVO_OK)
        return err ? err->code : FIVO_ERR_INVALID;
    if (spt <= 0 || spt > (1 << 20))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[dataset] samples_per_timestep=%ld: must be in 1..%d", spt, 1 << 20);
    if (path == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "speech: dataset path needed");
    char file[4096];
    if (is_dir(path)) {
        char alt[sizeof file];
        if (snprintf(file, sizeof file, "%s/%s", path, split ? split : "train") >=
                (int)sizeof file ||
            snprintf(alt, sizeof alt, "%s.tfrecord", file) >= (int)sizeof alt)
            return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", path);
        if (!is_file(file)) {
            if (!is_file(alt))
                return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no split file '%s' or '%s'",
                                      path, file, alt);
            memcpy(file, alt, sizeof file);
        }
    } else if (snprintf(file, sizeof file, "%s", path) >= (int)sizeof file) {
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", path);
    }
    speech *d = calloc(1, sizeof *d);
    if (d == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", file);
    d->dim = (int)spt;
    fivo_status st = fivo_tfrecord_reader_open(file, &d->reader, err);
    size_t cap = 0;
    const size_t frame_bytes = (size_t)spt * sizeof(float);
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
                                file, d->n, (unsigned long long)at, n, spt);
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

static const int32_t *sp_perm(speech *d, uint64_t seed, uint64_t epoch)
{
    int slot = (int)(epoch & 1u);
    if (!d->perm_ok[slot] || d->perm_epoch[slot] != epoch) {
        fivo_shuffle_permutation(seed, FIVO_RNG_SHUFFLE, epoch, d->n, d->perm[slot]);
        d->perm_epoch[slot] = epoch;
        d->perm_ok[slot] = true;
    }
    return d->perm[slot];
}

static fivo_status sp_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    speech *d = self;
    if (batch_size <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "speech: batch_size %d must be positive",
                              batch_size);
    if (d->n == 0)
        return shuffle ? fivo_error_set(err, FIVO_ERR_INVALID, "speech: the split is empty")
                       : FIVO_END;
    if (batch_size > d->cap_rows) {
        int32_t *l = realloc(d->lengths, (size_t)batch_size * sizeof *l);
        if (l != NULL)
            d->lengths = l;
        int32_t *id = realloc(d->ids, (size_t)batch_size * sizeof *id);
        if (id != NULL)
            d->ids = id;
        if (l == NULL || id == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "speech: out of memory");
        d->cap_rows = batch_size;
    }
    if (shuffle && d->perm[0] == NULL) {
        d->perm[0] = malloc((size_t)d->n * sizeof(int32_t));
        d->perm[1] = malloc((size_t)d->n * sizeof(int32_t));
        if (d->perm[0] == NULL || d->perm[1] == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "speech: out of memory");
    }
    int rows;
    if (shuffle) {
        rows = batch_size;
        for (int i = 0; i < rows; i++) {
            uint64_t pos = index * (uint64_t)batch_size + (uint64_t)i;
            d->ids[i] = sp_perm(d, seed, pos / (uint64_t)d->n)[pos % (uint64_t)d->n];
        }
    } else {
        uint64_t first = index * (uint64_t)batch_size;
        if (index > (uint64_t)d->n || first >= (uint64_t)d->n)
            return FIVO_END;
        uint64_t left = (uint64_t)d->n - first;
        rows = (int)(left < (uint64_t)batch_size ? left : (uint64_t)batch_size);
        for (int i = 0; i < rows; i++)
            d->ids[i] = (int32_t)(first + (uint64_t)i);
    }
    int T = 0;
    for (int i = 0; i < rows; i++) {
        d->lengths[i] = d->len[d->ids[i]];
        if (d->lengths[i] > T)
            T = d->lengths[i];
    }
    size_t D = (size_t)d->dim, need = (size_t)T * (size_t)rows * D;
    if (need > d->cap_values) {
        float *a = realloc(d->inputs, need * sizeof *a);
        if (a != NULL)
            d->inputs = a;
        float *b = realloc(d->targets, need * sizeof *b);
        if (b != NULL)
            d->targets = b;
        if (a == NULL || b == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "speech: out of memory for a batch");
        d->cap_values = need;
    }
    memset(d->inputs, 0, need * sizeof(float));
    memset(d->targets, 0, need * sizeof(float));
    for (int i = 0; i < rows; i++) {
        const uint8_t *src = d->rec[d->ids[i]];
        for (int t = 0; t < d->lengths[i]; t++) {
            float *y = d->targets + ((size_t)t * (size_t)rows + (size_t)i) * D;
            memcpy(y, src + (size_t)t * D * sizeof(float), D * sizeof(float)); /* little-endian host */
            if (t + 1 < d->lengths[i])
                memcpy(d->inputs + ((size_t)(t + 1) * (size_t)rows + (size_t)i) * D, y,
                       D * sizeof(float));
        }
    }
    out->max_len = T;
    out->batch_size = rows;
    out->dim = d->dim;
    out->inputs = d->inputs;
    out->targets = d->targets;
    out->lengths = d->lengths;
    out->seq_ids = d->ids;
    return FIVO_OK;
}

static const fivo_dataset_vtable sp_vtable = {
    .open = sp_open,
    .close = sp_close,
    .info = sp_info,
    .batch = sp_batch,
    .convert = NULL,
};

static const fivo_plugin_descriptor sp_descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "speech",
    .version = "1.0.0",
    .description = "raw float32 audio frames in TFRecord files (TIMIT as the reference "
                   "converts it)",
    .vtable = &sp_vtable,
    .vtable_size = sizeof sp_vtable,
    .options = sp_options,
    .num_options = sizeof sp_options / sizeof sp_options[0],
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &sp_descriptor;
}
