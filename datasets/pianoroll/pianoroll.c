/* Dataset plugin "pianoroll": the Boulanger-Lewandowski pickles (JSB chorales,
 * Nottingham, MuseData, Piano-midi.de) read directly with the safe pickle
 * subset reader. A pickle is a dict of splits ("train", "valid", "test"),
 * each a list of sequences of chords (tuples of MIDI notes), plus an
 * optional "train_mean". Notes min_note..max_note become binary frames.
 *
 * Batches follow the reference: targets are the frames; inputs are the
 * frames minus the train mean (in float32), shifted one step later in time,
 * zero at t = 0 and past each sequence's length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/batcher.h>
#include <fivo/options.h>
#include <fivo/plugin_dataset.h>

#include "midi.h"
#include "pickle.h"

#define PR_MAX_DIM 128

typedef struct pianoroll {
    int dim, min_note;
    int midi_bpm;        /* quarter notes (frames) per minute of MIDI samples */
    int32_t n;           /* sequences in the split */
    int64_t *start;      /* [n + 1] first frame of each sequence */
    uint64_t (*frames)[2]; /* one bit per note per frame */
    double *mean;        /* [dim] train mean */
    float *meanf;        /* the same in float32, as the reference subtracts it */
    int32_t *len;        /* [n] timesteps of each sequence */
    fivo_dataset_info info;
    fivo_batcher *batcher;
} pianoroll;

static const fivo_option OPTIONS[] = {
    {"min_note", FIVO_OPTION_INT, "21", "lowest MIDI note (becomes dimension 0)", NULL, "0", "127"},
    {"max_note", FIVO_OPTION_INT, "108", "highest MIDI note; dim = max_note - min_note + 1", NULL, "0", "127"},
    {"data_dimension", FIVO_OPTION_INT, NULL,
     "the reference's --data_dimension: when given, must equal max_note - min_note + 1", NULL, "1", NULL},
    {"midi_bpm", FIVO_OPTION_INT, "120",
     "tempo of MIDI samples: one frame is one quarter note at this many per minute", NULL, "1", NULL},
    {"expect_counts", FIVO_OPTION_STRING, "",
     "train/valid/test sequence counts the file must have, e.g. 694/173/170 (a recipe's "
     "dataset); another file is refused naming it (empty: any)", NULL, NULL, NULL},
};

static void pr_close(void *self)
{
    pianoroll *d = self;
    if (d == NULL)
        return;
    free(d->start);
    free(d->frames);
    free(d->mean);
    free(d->meanf);
    free(d->len);
    fivo_batcher_destroy(d->batcher);
    free(d);
}

static fivo_status read_file(const char *path, uint8_t **buf, size_t *len, fivo_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: cannot open pianoroll pickle", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b != NULL) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(b, cap * 2);
        if (nb == NULL) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    bool bad = b != NULL && ferror(f);
    fclose(f);
    if (b == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (bad) {
        free(b);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return FIVO_OK;
}

static bool is_seq(const pkl_value *v)
{
    return v->type == PKL_LIST || v->type == PKL_TUPLE;
}

/* x as an integer when it is one; the range test comes first because
 * converting a NaN or a huge double to int64_t is undefined. */
static bool integral(double x, int64_t *out)
{
    if (!(x > -9.0e18 && x < 9.0e18) || x != (double)(int64_t)x)
        return false;
    *out = (int64_t)x;
    return true;
}

/* A note as an integer: Python int, numpy integer scalar, or an integral float. */
static bool note_value(const pkl_value *v, int64_t *out)
{
    if (v->type == PKL_INT) {
        *out = v->u.i;
        return true;
    }
    return v->type == PKL_FLOAT && integral(v->u.f, out);
}

/* Converts one split into frame bitmasks. */
static fivo_status load_split(const char *path, const pkl_value *seqs, const char *split,
                              int min_note, int dim, int32_t *n_out, int64_t **start_out,
                              uint64_t (**frames_out)[2], fivo_error *err)
{
    if (!is_seq(seqs))
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' is a %s, not a list of "
                              "sequences", path, split, pkl_type_name(seqs->type));
    size_t n = seqs->u.seq.len;
    if (n > (size_t)INT32_MAX)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' has too many sequences",
                              path, split);
    int64_t *start = malloc((n + 1) * sizeof *start);
    if (start == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    start[0] = 0;
    for (size_t s = 0; s < n; s++) {
        const pkl_value *sq = seqs->u.seq.items[s];
        if (!is_seq(sq)) {
            free(start);
            return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %zu is a %s, "
                                  "not a list of chords", path, split, s,
                                  pkl_type_name(sq->type));
        }
        start[s + 1] = start[s] + (int64_t)sq->u.seq.len;
    }
    uint64_t(*frames)[2] = calloc((size_t)(start[n] ? start[n] : 1), sizeof *frames);
    if (frames == NULL) {
        free(start);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t s = 0; s < n; s++) {
        const pkl_value *sq = seqs->u.seq.items[s];
        for (size_t t = 0; t < sq->u.seq.len; t++) {
            const pkl_value *chord = sq->u.seq.items[t];
            uint64_t *bits = frames[start[s] + (int64_t)t];
            size_t k = 0;
            const pkl_value *const *notes = NULL;
            size_t nn = 0;
            if (is_seq(chord)) {
                notes = (const pkl_value *const *)chord->u.seq.items;
                nn = chord->u.seq.len;
            } else if (chord->type == PKL_ARRAY && chord->u.arr.ndim == 1 &&
                       (chord->u.arr.data != NULL || chord->u.arr.n == 0)) {
                nn = (size_t)chord->u.arr.n;
            } else {
                free(start);
                free(frames);
                return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %zu "
                                      "timestep %zu: chord is a %s, not a tuple of notes", path,
                                      split, s, t, pkl_type_name(chord->type));
            }
            for (k = 0; k < nn; k++) {
                int64_t note;
                bool ok;
                ok = notes != NULL ? note_value(notes[k], &note)
                                   : integral(chord->u.arr.data[k], &note);
                if (!ok || note < min_note || note >= min_note + dim) {
                    free(start);
                    free(frames);
                    if (!ok && notes == NULL)
                        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %zu "
                                              "timestep %zu: note %zu is %g, not an integer",
                                              path, split, s, t, k, chord->u.arr.data[k]);
                    if (!ok)
                        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %zu "
                                              "timestep %zu: note %zu is a %s, not an integer",
                                              path, split, s, t, k,
                                              pkl_type_name(notes[k]->type));
                    return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %zu "
                                          "timestep %zu: note %lld outside %d..%d", path, split,
                                          s, t, (long long)note, min_note, min_note + dim - 1);
                }
                int j = (int)(note - min_note);
                bits[j >> 6] |= (uint64_t)1 << (j & 63);
            }
        }
    }
    *n_out = (int32_t)n;
    *start_out = start;
    *frames_out = frames;
    return FIVO_OK;
}

static bool bit(const uint64_t *b, int j)
{
    return (b[j >> 6] >> (j & 63)) & 1u;
}

/* [dataset] expect_counts: a recipe names its dataset by its split sizes, so
 * a pickle of another dataset is refused before training, naming the file. */
static fivo_status check_counts(const char *path, const pkl_value *root, const char *want,
                                fivo_error *err)
{
    long w[3];
    char tail;
    if (sscanf(want, "%ld/%ld/%ld%c", &w[0], &w[1], &w[2], &tail) != 3 || w[0] < 0 ||
        w[1] < 0 || w[2] < 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] expect_counts = '%s': need "
                              "TRAIN/VALID/TEST sequence counts, e.g. 694/173/170", want);
    static const char *const names[3] = {"train", "valid", "test"};
    long got[3];
    for (int i = 0; i < 3; i++) {
        const pkl_value *v = pkl_dict_get(root, names[i]);
        got[i] = v != NULL && is_seq(v) ? (long)v->u.seq.len : -1;
    }
    if (got[0] == w[0] && got[1] == w[1] && got[2] == w[2])
        return FIVO_OK;
    char have[96];
    snprintf(have, sizeof have, "%ld/%ld/%ld", got[0], got[1], got[2]);
    return fivo_error_set(err, FIVO_ERR_INVALID, "%s: [dataset] expect_counts = %s (the "
                          "recipe's dataset), but the file has %s train/valid/test sequences "
                          "(-1: no such split); is it another dataset? (--set "
                          "dataset.expect_counts= accepts any)", path, want, have);
}

/* [dataset] min_note, max_note, midi_bpm, expect_counts (and a
 * data_dimension that must agree with the notes), checked. */
static fivo_status read_options(const fivo_config *cfg, long *min_note, long *max_note, long *bpm,
                                const char **expect, fivo_error *err)
{
    long dim = 0; /* defaults: OPTIONS (also with no config) */
    if (fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "min_note", min_note,
                        err) != FIVO_OK ||
        fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "midi_bpm", bpm, err) !=
            FIVO_OK ||
        fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "max_note", max_note,
                        err) != FIVO_OK ||
        fivo_option_int(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "data_dimension", &dim,
                        err) != FIVO_OK ||
        fivo_option_string(cfg, "dataset", FIVO_OPTION_ROWS(OPTIONS), "expect_counts",
                           expect, err) != FIVO_OK)
        return err ? err->code : FIVO_ERR_INVALID;
    if (dim != 0 && dim != *max_note - *min_note + 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[dataset] data_dimension = %ld, but notes %ld..%ld give %ld; "
                              "drop it or set min_note/max_note", dim, *min_note, *max_note,
                              *max_note - *min_note + 1);
    if (*min_note < 0 || *max_note < *min_note || *max_note - *min_note + 1 > PR_MAX_DIM)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] min_note=%ld max_note=%ld: "
                              "need 0 <= min_note <= max_note and at most %d notes", *min_note,
                              *max_note, PR_MAX_DIM);
    if (*bpm < 1 || *bpm > 1000)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] midi_bpm=%ld: must be in 1..1000",
                              *bpm);
    return FIVO_OK;
}

/* d->mean (and meanf's allocation): the pickle's train_mean, or the note
 * frequency over the train split when it has none. */
static fivo_status read_mean(const char *path, const pkl_value *root, pianoroll *d,
                             fivo_error *err)
{
    fivo_status st = FIVO_OK;
    d->mean = calloc((size_t)d->dim, sizeof *d->mean);
    d->meanf = calloc((size_t)d->dim, sizeof *d->meanf);
    if (d->mean == NULL || d->meanf == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        return st;
    }
    const pkl_value *mean = pkl_dict_get(root, "train_mean");
    if (mean != NULL) {
        if (mean->type == PKL_ARRAY && mean->u.arr.n == d->dim && mean->u.arr.ndim == 1 &&
            mean->u.arr.data != NULL) {
            memcpy(d->mean, mean->u.arr.data, (size_t)d->dim * sizeof *d->mean);
        } else if (is_seq(mean) && mean->u.seq.len == (size_t)d->dim) {
            for (int j = 0; j < d->dim; j++) {
                const pkl_value *x = mean->u.seq.items[j];
                if (x->type != PKL_FLOAT && x->type != PKL_INT) {
                    st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: train_mean[%d] is a %s", path,
                                        j, pkl_type_name(x->type));
                    return st;
                }
                d->mean[j] = x->type == PKL_FLOAT ? x->u.f : (double)x->u.i;
            }
        } else {
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: train_mean is not %d numbers (a %s "
                                "of %lld)", path, d->dim, pkl_type_name(mean->type),
                                mean->type == PKL_ARRAY ? (long long)mean->u.arr.n
                                : is_seq(mean) ? (long long)mean->u.seq.len : 0LL);
            return st;
        }
    } else {
        /* No stored mean: the note frequency over the train frames, as
         * calculate_pianoroll_mean.py computes it. */
        const pkl_value *train = pkl_dict_get(root, "train");
        if (train == NULL) {
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: neither train_mean nor a train split "
                                "to compute it from", path);
            return st;
        }
        int32_t tn;
        int64_t *tstart;
        uint64_t(*tframes)[2];
        st = load_split(path, train, "train", d->min_note, d->dim, &tn, &tstart, &tframes, err);
        if (st != FIVO_OK)
            return st;
        int64_t *count = calloc((size_t)d->dim, sizeof *count);
        if (count == NULL) {
            free(tstart);
            free(tframes);
            st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
            return st;
        }
        for (int64_t f = 0; f < tstart[tn]; f++)
            for (int j = 0; j < d->dim; j++)
                count[j] += bit(tframes[f], j);
        for (int j = 0; j < d->dim; j++)
            d->mean[j] = tstart[tn] > 0 ? (double)count[j] / (double)tstart[tn] : 0.0;
        free(count);
        free(tstart);
        free(tframes);
    }
    return FIVO_OK;
}

/* Each sequence's length and the split's dataset info. */
static fivo_status fill_info(const char *path, const char *split, pianoroll *d, fivo_error *err)
{
    fivo_status st = FIVO_OK;
    d->len = malloc(((size_t)d->n + 1) * sizeof *d->len);
    if (d->len == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        return st;
    }
    fivo_dataset_info *in = &d->info;
    in->dim = d->dim;
    in->kind = "binary";
    in->num_sequences = d->n;
    in->total_timesteps = d->start[d->n];
    in->min_len = in->max_len = 0;
    for (int32_t s = 0; s < d->n; s++) {
        int64_t len = d->start[s + 1] - d->start[s];
        if (len > INT32_MAX) {
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: split '%s' sequence %d has %lld "
                                "timesteps, more than %d", path, split, (int)s, (long long)len,
                                INT32_MAX);
            return st;
        }
        d->len[s] = (int32_t)len;
        if (s == 0 || d->len[s] < in->min_len)
            in->min_len = d->len[s];
        if (d->len[s] > in->max_len)
            in->max_len = d->len[s];
    }
    in->mean_len = d->n > 0 ? (double)in->total_timesteps / d->n : 0.0;
    in->mean = d->mean;
    return FIVO_OK;
}

static fivo_status pr_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    *self = NULL;
    long min_note = 0, max_note = 0, bpm = 0;
    const char *expect = "";
    fivo_status st = read_options(cfg, &min_note, &max_note, &bpm, &expect, err);
    if (st != FIVO_OK)
        return st;
    if (path == NULL || split == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "pianoroll: dataset path and split needed");
    uint8_t *buf = NULL;
    size_t len = 0;
    st = read_file(path, &buf, &len, err);
    if (st != FIVO_OK)
        return st;
    pkl_doc *doc;
    const pkl_value *root;
    st = pkl_load(buf, len, path, &doc, &root, err);
    free(buf);
    if (st != FIVO_OK)
        return st;
    pianoroll *d = calloc(1, sizeof *d);
    if (d == NULL) {
        pkl_free(doc);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    d->min_note = (int)min_note;
    d->midi_bpm = (int)bpm;
    d->dim = (int)(max_note - min_note + 1);
    const pkl_value *seqs = NULL;
    if (root->type != PKL_DICT) {
        st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: the pickle holds a %s, not a dict of "
                            "splits", path, pkl_type_name(root->type));
        goto fail;
    }
    if (expect != NULL && expect[0] != '\0' &&
        (st = check_counts(path, root, expect, err)) != FIVO_OK)
        goto fail;
    seqs = pkl_dict_get(root, split);
    if (seqs == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no split '%s' in the pickle (it has%s%s%s)",
                            path, split, pkl_dict_get(root, "train") ? " train" : "",
                            pkl_dict_get(root, "valid") ? " valid" : "",
                            pkl_dict_get(root, "test") ? " test" : "");
        goto fail;
    }
    st = load_split(path, seqs, split, d->min_note, d->dim, &d->n, &d->start, &d->frames, err);
    if (st != FIVO_OK)
        goto fail;
    if ((st = read_mean(path, root, d, err)) != FIVO_OK)
        goto fail;
    for (int j = 0; j < d->dim; j++)
        d->meanf[j] = (float)d->mean[j];
    pkl_free(doc);
    doc = NULL;

    if ((st = fill_info(path, split, d, err)) != FIVO_OK)
        goto fail;
    st = fivo_batcher_create("pianoroll", d->n, d->len, d->dim, &d->batcher, err);
    if (st != FIVO_OK)
        goto fail;
    *self = d;
    return FIVO_OK;
fail:
    pkl_free(doc);
    pr_close(d);
    return st;
}

static fivo_status pr_info(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)err;
    *out = ((pianoroll *)self)->info;
    return FIVO_OK;
}

static fivo_status pr_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    pianoroll *d = self;
    float *targets;
    fivo_status st =
        fivo_batcher_begin(d->batcher, batch_size, shuffle, seed, index, out, &targets, err);
    if (st != FIVO_OK)
        return st;
    for (int i = 0; i < out->batch_size; i++) {
        const uint64_t(*fr)[2] = (const uint64_t(*)[2])d->frames + d->start[out->seq_ids[i]];
        for (int t = 0; t < out->lengths[i]; t++) {
            float *y = targets + ((size_t)t * (size_t)out->batch_size + (size_t)i) * (size_t)d->dim;
            for (int j = 0; j < d->dim; j++)
                y[j] = bit(fr[t], j) ? 1.0f : 0.0f;
        }
    }
    /* the reference centres inputs by the float32 train mean */
    fivo_batcher_shift(d->batcher, d->meanf);
    return FIVO_OK;
}

/* Samples as MIDI: the frames are the batches' binary targets. */
static fivo_status pr_write_sample(void *self, const float *frames, int num_frames, int dim,
                                   int prefix_frames, const char *path_stem, fivo_error *err)
{
    const pianoroll *d = self;
    if (dim != d->dim)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: %d values per frame, the data has %d",
                              path_stem, dim, d->dim);
    size_t n = strlen(path_stem);
    char *path = malloc(n + 5);
    if (path == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path_stem);
    memcpy(path, path_stem, n);
    strcpy(path + n, ".mid");
    fivo_status st = pr_write_midi(path, frames, num_frames, dim, d->min_note, prefix_frames,
                                   d->midi_bpm, err);
    free(path);
    return st;
}

static const fivo_dataset_vtable VTABLE = {
    .open = pr_open,
    .close = pr_close,
    .info = pr_info,
    .batch = pr_batch,
    .convert = NULL,
    .write_sample = pr_write_sample,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "pianoroll",
    .version = "1.0.0",
    .description = "Boulanger-Lewandowski pianoroll pickles (JSB, Nottingham, MuseData, "
                   "Piano-midi.de), read safely without Python",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
