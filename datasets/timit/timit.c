/* Dataset plugin "timit": converts raw TIMIT (NIST SPHERE .WAV files) into
 * the speech plugin's TFRecord files, as create_timit_dataset.py does:
 *
 *   <raw_timit_dir>/TIMIT/{TRAIN,TEST}/DR<n>/<SPEAKER>/<name>.WAV  (any letter case)
 *   -> <out_dir>/train, <out_dir>/valid, <out_dir>/test
 *
 * Each file's SPHERE header must agree with its data (sample_count, and
 * sample_min / sample_max when present). A seeded valid_fraction of the
 * train files (sorted by path, then permuted by the counter-based RNG) is
 * held out as valid. The train mean and (population) standard deviation are
 * computed exactly over all train samples; every utterance is standardised
 * with them, zero-padded to whole timesteps and written as one record of
 * float32 samples. Nothing appears in out_dir unless every step succeeds.
 *
 * Reading the converted files is the speech plugin's job; open() here says so. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include <fivo/atomic_file.h>
#include <fivo/options.h>
#include <fivo/plugin_dataset.h>
#include <fivo/progress.h>
#include <fivo/rng.h>
#include <fivo/shuffle.h>
#include <fivo/tfrecord.h>

static const fivo_option OPTIONS[] = {
    {"raw_timit_dir", FIVO_OPTION_STRING, NULL, "folder holding TIMIT/TRAIN and TIMIT/TEST", NULL, NULL, NULL},
    {"out_dir", FIVO_OPTION_STRING, NULL, "folder for the train, valid and test TFRecord files", NULL, NULL, NULL},
    {"samples_per_timestep", FIVO_OPTION_INT, "200", "audio samples per timestep", NULL, "1", NULL},
    {"valid_fraction", FIVO_OPTION_DOUBLE, "0.05", "fraction of TRAIN held out as valid", NULL, "0", "<1"},
    {"valid_seed", FIVO_OPTION_INT, "1234", "seed of the valid hold-out permutation", NULL, NULL, NULL},
};

/* ---- file lists ---------------------------------------------------------- */

typedef struct strlist {
    char **s;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static bool strlist_add(strlist *l, const char *a, const char *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **s = realloc(l->s, cap * sizeof *s);
        if (s == NULL)
            return false;
        l->s = s;
        l->cap = cap;
    }
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (p == NULL)
        return false;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    l->s[l->n++] = p;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Sub-folders (or files) of `dir` matching `keep`, as full paths, sorted. */
#define TM_ROWS FIVO_OPTION_ROWS(OPTIONS)

static fivo_status list_dir(const char *dir, bool want_dirs, bool (*keep)(const char *),
                            strlist *out, fivo_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot read folder: %s", dir, strerror(errno));
    struct dirent *e;
    size_t first = out->n;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !keep(e->d_name))
            continue;
        size_t before = out->n;
        if (!strlist_add(out, dir, e->d_name)) {
            closedir(d);
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", dir);
        }
        if (is_dir(out->s[before]) != want_dirs) {
            free(out->s[before]);
            out->n--;
        }
    }
    closedir(d);
    if (out->n > first)
        qsort(out->s + first, out->n - first, sizeof *out->s, cmp_str);
    return FIVO_OK;
}

static bool keep_dr(const char *name) { return strncasecmp(name, "dr", 2) == 0; }
static bool keep_any(const char *name) { (void)name; return true; }
static bool keep_wav(const char *name) { return ends_with_ci(name, ".wav"); }

/* The entry of `dir` named `name` in any letter case, or NULL. */
static char *find_ci(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcasecmp(e->d_name, name) == 0) {
            size_t n = strlen(dir) + strlen(e->d_name) + 2;
            free(found);
            found = malloc(n);
            if (found != NULL)
                snprintf(found, n, "%s/%s", dir, e->d_name);
            if (found == NULL || strcmp(e->d_name, name) == 0)
                break; /* prefer the exact spelling */
        }
    }
    closedir(d);
    return found;
}

/* All <split>/DR<n>/<SPEAKER>/<name>.WAV under the TIMIT folder, sorted by path. */
static fivo_status list_split(const char *timit, const char *split, strlist *wavs,
                              fivo_error *err)
{
    char *sdir = find_ci(timit, split);
    if (sdir == NULL || !is_dir(sdir)) {
        free(sdir);
        return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no %s folder", timit, split);
    }
    strlist regions = {0}, speakers = {0};
    fivo_status st = list_dir(sdir, true, keep_dr, &regions, err);
    for (size_t i = 0; st == FIVO_OK && i < regions.n; i++)
        st = list_dir(regions.s[i], true, keep_any, &speakers, err);
    for (size_t i = 0; st == FIVO_OK && i < speakers.n; i++)
        st = list_dir(speakers.s[i], false, keep_wav, wavs, err);
    if (st == FIVO_OK) {
        /* One sort of the full paths, as the reference sorts its glob. */
        if (wavs->n > 0)
            qsort(wavs->s, wavs->n, sizeof *wavs->s, cmp_str);
        if (wavs->n == 0)
            st = fivo_error_set(err, FIVO_ERR_NOT_FOUND,
                                "%s: no .WAV files in %s/DR*/<SPEAKER>/ (empty TIMIT folder?)",
                                sdir, sdir);
    }
    strlist_free(&regions);
    strlist_free(&speakers);
    free(sdir);
    return st;
}

/* ---- one SPHERE file ------------------------------------------------------ */

/* `field -i N` in the header text; false when absent. */
static bool header_int(const char *h, const char *field, long long *out)
{
    size_t k = strlen(field);
    for (const char *p = strstr(h, field); p != NULL; p = strstr(p + 1, field)) {
        bool starts = p == h || p[-1] == '\n';
        if (!starts || strncmp(p + k, " -i ", 4) != 0)
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(p + k + 4, &end, 10);
        if (end == p + k + 4 || errno != 0)
            return false;
        *out = v;
        return true;
    }
    return false;
}

typedef struct wavbuf {
    short *s;
    size_t cap;
} wavbuf;

/* Reads one file's samples into b->s and checks them against the header. */
static fivo_status load_wav(const char *path, wavbuf *b, size_t *count, fivo_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char head[1 << 16];
    size_t got = fread(head, 1, sizeof head - 1, f);
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    fclose(f);
    head[got] = '\0';
    char *nl = memchr(head, '\n', got);
    if (got < 16 || strncmp(head, "NIST_1A\n", 8) != 0 || nl == NULL)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: offset 0: not a NIST SPHERE file "
                              "(no NIST_1A header line)", path);
    long hlen = strtol(head + 8, NULL, 10);
    if (hlen < 16 || hlen > (long)got || hlen > fsize)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: offset 8: bad SPHERE header length %ld",
                              path, hlen);
    head[hlen] = '\0';
    long long want_count, want_min = 0, want_max = 0, nbytes = 2;
    if (!header_int(head, "sample_count", &want_count))
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: SPHERE header has no sample_count",
                              path);
    bool has_min = header_int(head, "sample_min", &want_min);
    bool has_max = header_int(head, "sample_max", &want_max);
    header_int(head, "sample_n_bytes", &nbytes);
    if (nbytes != 2)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "%s: sample_n_bytes %lld (16-bit PCM "
                              "expected)", path, nbytes);
    long long in_data = (fsize - hlen) / 2;
    if (in_data != want_count)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: header says sample_count %lld but the "
                              "data after byte %ld holds %lld samples", path, want_count, hlen,
                              in_data);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: libsndfile: %s", path,
                              sf_strerror(NULL));
    if (info.channels != 1) {
        sf_close(sf);
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "%s: %d channels (mono expected)",
                              path, info.channels);
    }
    size_t n = (size_t)want_count;
    if (n + 1 > b->cap) {
        short *s = realloc(b->s, (n + 1) * sizeof *s);
        if (s == NULL) {
            sf_close(sf);
            return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        }
        b->s = s;
        b->cap = n + 1;
    }
    /* Ask for one more than expected to catch data beyond sample_count. */
    sf_count_t r = sf_read_short(sf, b->s, (sf_count_t)n + 1);
    sf_close(sf);
    if (r != (sf_count_t)n)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: header says sample_count %lld but "
                              "libsndfile read %lld samples", path, want_count, (long long)r);
    if (n == 0)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: no samples", path);
    short lo = b->s[0], hi = b->s[0];
    for (size_t i = 1; i < n; i++) {
        if (b->s[i] < lo)
            lo = b->s[i];
        if (b->s[i] > hi)
            hi = b->s[i];
    }
    if (has_min && lo != want_min)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: header says sample_min %lld but the "
                              "data's minimum is %d", path, want_min, lo);
    if (has_max && hi != want_max)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: header says sample_max %lld but the "
                              "data's maximum is %d", path, want_max, hi);
    *count = n;
    return FIVO_OK;
}

/* ---- conversion ------------------------------------------------------------ */

static fivo_status write_split(const char *what, char **files, size_t nfiles, const char *out,
                               double mean, double std, int spt, wavbuf *wb, float **fbuf,
                               size_t *fcap, fivo_tfrecord_writer **w, fivo_error *err)
{
    fivo_status st = fivo_tfrecord_writer_open(out, w, err);
    fivo_progress *prog = fivo_progress_start(what, "files", 0, (int64_t)nfiles);
    for (size_t i = 0; st == FIVO_OK && i < nfiles; i++) {
        size_t n;
        st = load_wav(files[i], wb, &n, err);
        if (st != FIVO_OK)
            break;
        size_t padded = (n + (size_t)spt - 1) / (size_t)spt * (size_t)spt;
        if (padded > *fcap) {
            float *f = realloc(*fbuf, padded * sizeof *f);
            if (f == NULL) {
                st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", files[i]);
                break;
            }
            *fbuf = f;
            *fcap = padded;
        }
        float *x = *fbuf;
        for (size_t k = 0; k < n; k++)
            x[k] = (float)(((double)wb->s[k] - mean) / std);
        for (size_t k = n; k < padded; k++)
            x[k] = 0.0f; /* padding after normalising, as the reference does */
        st = fivo_tfrecord_writer_write(*w, x, padded * sizeof(float), err); /* little-endian */
        fivo_progress_update(prog, (int64_t)i + 1, NULL);
    }
    fivo_progress_finish(prog);
    return st;
}

/* OUT/stats.json: the statistics the data was standardised with, so the
 * speech reader can turn sampled frames back into audio. Exact doubles. */
static fivo_status write_stats(const char *out, double mean, double std, long spt, int64_t count,
                               fivo_error *err)
{
    char path[4096], text[512];
    if (snprintf(path, sizeof path, "%s/stats.json", out) >= (int)sizeof path)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", out);
    int n = snprintf(text, sizeof text,
                     "{\"mean\": %.17g, \"std\": %.17g, \"samples_per_timestep\": %ld, "
                     "\"train_samples\": %lld, \"sample_rate\": 16000}\n",
                     mean, std, spt, (long long)count);
    return fivo_file_write_atomic(path, text, (size_t)n, err);
}

/* [dataset] raw_timit_dir, out_dir, samples_per_timestep, valid_fraction
 * and valid_seed, checked (defaults: OPTIONS). */
static fivo_status read_convert_options(const fivo_config *cfg, const char **raw, const char **out,
                                        long *spt, double *frac, long *seed, fivo_error *err)
{
    if (fivo_option_string(cfg, "dataset", TM_ROWS, "raw_timit_dir", raw, err) != FIVO_OK ||
        fivo_option_string(cfg, "dataset", TM_ROWS, "out_dir", out, err) != FIVO_OK ||
        fivo_option_int(cfg, "dataset", TM_ROWS, "samples_per_timestep", spt, err) != FIVO_OK ||
        fivo_option_double(cfg, "dataset", TM_ROWS, "valid_fraction", frac, err) != FIVO_OK ||
        fivo_option_int(cfg, "dataset", TM_ROWS, "valid_seed", seed, err) != FIVO_OK)
        return err ? err->code : FIVO_ERR_INVALID;
    if (*raw == NULL || (*raw)[0] == '\0')
        return fivo_error_set(err, FIVO_ERR_INVALID, "timit: --raw_timit_dir ([dataset] "
                              "raw_timit_dir) is required");
    if (*out == NULL || (*out)[0] == '\0')
        return fivo_error_set(err, FIVO_ERR_INVALID, "timit: --out_dir ([dataset] out_dir) is "
                              "required");
    if (*spt <= 0 || *spt > (1 << 20))
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] samples_per_timestep=%ld: must "
                              "be in 1..%d", *spt, 1 << 20);
    if (!(*frac >= 0.0 && *frac < 1.0))
        return fivo_error_set(err, FIVO_ERR_INVALID, "[dataset] valid_fraction=%g: must be in "
                              "[0, 1)", *frac);
    return FIVO_OK;
}

/* Pass 1: exact statistics over every train sample (integer sums): the
 * mean, the standard deviation and the sample count. */
static fivo_status train_statistics(char **train, size_t n_train, wavbuf *wb, double *mean,
                                    double *std, int64_t *count, fivo_error *err)
{
    int64_t sum = 0;
    uint64_t sumsq = 0;
    *count = 0;
    fivo_progress *prog = fivo_progress_start("statistics", "files", 0, (int64_t)n_train);
    for (size_t i = 0; i < n_train; i++) {
        size_t n;
        fivo_status st = load_wav(train[i], wb, &n, err);
        if (st != FIVO_OK) {
            fivo_progress_finish(prog);
            return st;
        }
        for (size_t k = 0; k < n; k++) {
            sum += wb->s[k];
            sumsq += (uint64_t)((int64_t)wb->s[k] * wb->s[k]);
        }
        *count += (int64_t)n;
        fivo_progress_update(prog, (int64_t)i + 1, NULL);
    }
    fivo_progress_finish(prog);
    *mean = (double)sum / (double)*count;
    /* var = (n*sumsq - sum^2) / n^2, with the numerator exact in 128 bits. */
    __extension__ unsigned __int128 num =
        (unsigned __int128)*count * sumsq - (unsigned __int128)((__int128)sum * sum);
    *std = sqrt((double)num / (double)*count / (double)*count);
    if (!(*std > 0.0))
        return fivo_error_set(err, FIVO_ERR_NUMERIC, "timit: the train audio is constant (std 0); "
                              "cannot standardise");
    return FIVO_OK;
}

/* What the conversion made: split sizes (train, valid, test) and statistics. */
static void report_convert(fivo_report *report, const size_t counts[3], double mean, double std,
                           long spt, int64_t samples, const char *out)
{
    fivo_report_set_int(report, "num_train", (int64_t)counts[0]);
    fivo_report_set_int(report, "num_valid", (int64_t)counts[1]);
    fivo_report_set_int(report, "num_test", (int64_t)counts[2]);
    fivo_report_set_number(report, "train_mean", mean);
    fivo_report_set_number(report, "train_std", std);
    fivo_report_set_int(report, "samples_per_timestep", spt);
    fivo_report_set_int(report, "train_samples", samples);
    fivo_report_set_string(report, "out_dir", out);
}

static fivo_status tm_convert(const fivo_config *cfg, fivo_report *report, fivo_error *err)
{
    const char *raw = NULL, *out = NULL;
    long spt = 0, seed = 0; /* defaults: OPTIONS */
    double frac = 0;
    if (cfg == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "timit: no configuration");
    fivo_status st = read_convert_options(cfg, &raw, &out, &spt, &frac, &seed, err);
    if (st != FIVO_OK)
        return st;

    char *timit = find_ci(raw, "TIMIT");
    if (timit == NULL || !is_dir(timit)) {
        free(timit);
        return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no TIMIT folder inside", raw);
    }
    strlist all_train = {0}, test = {0};
    st = list_split(timit, "TRAIN", &all_train, err);
    if (st == FIVO_OK)
        st = list_split(timit, "TEST", &test, err);
    free(timit);
    if (st != FIVO_OK) {
        strlist_free(&all_train);
        strlist_free(&test);
        return st;
    }
    size_t n_all = all_train.n;
    size_t n_valid = (size_t)((double)n_all * frac);
    size_t n_train = n_all - n_valid;
    if (n_train == 0 || n_all > INT32_MAX) {
        strlist_free(&all_train);
        strlist_free(&test);
        return fivo_error_set(err, FIVO_ERR_INVALID, "timit: %zu TRAIN files leave no train set",
                              n_all);
    }
    printf("%zu train / %zu valid / %zu test\n", n_train, n_valid, test.n);
    fflush(stdout);

    /* valid = the first n_valid of a seeded permutation, train the rest in
     * permuted order (the reference's shuffle-and-slice). */
    int32_t *perm = malloc(n_all * sizeof *perm);
    char **train = malloc(n_train * sizeof *train), **valid = malloc((n_valid + 1) * sizeof *valid);
    wavbuf wb = {0};
    float *fbuf = NULL;
    size_t fcap = 0;
    fivo_tfrecord_writer *w[3] = {NULL, NULL, NULL};
    if (perm == NULL || train == NULL || valid == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "timit: out of memory");
        goto done;
    }
    fivo_shuffle_permutation((uint64_t)seed, FIVO_RNG_SHUFFLE, 0, (int32_t)n_all, perm);
    for (size_t i = 0; i < n_valid; i++)
        valid[i] = all_train.s[perm[i]];
    for (size_t i = 0; i < n_train; i++)
        train[i] = all_train.s[perm[n_valid + i]];

    int64_t count = 0;
    double mean = 0.0, std = 0.0;
    if ((st = train_statistics(train, n_train, &wb, &mean, &std, &count, err)) != FIVO_OK)
        goto done;
    printf("train mean: %f  train std: %f\n", mean, std);
    fflush(stdout);

    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create output folder: %s", out,
                            strerror(errno));
        goto done;
    }
    static const char *names[3] = {"train", "valid", "test"};
    char *const *lists[3] = {train, valid, test.s};
    size_t counts[3] = {n_train, n_valid, test.n};
    char path[4096];
    for (int s = 0; s < 3; s++) {
        if (snprintf(path, sizeof path, "%s/%s", out, names[s]) >= (int)sizeof path) {
            st = fivo_error_set(err, FIVO_ERR_INVALID, "%s: path too long", out);
            goto done;
        }
        st = write_split(names[s], (char **)lists[s], counts[s], path, mean, std, (int)spt, &wb,
                         &fbuf, &fcap, &w[s], err);
        if (st != FIVO_OK)
            goto done;
    }
    for (int s = 0; s < 3; s++) {
        fivo_tfrecord_writer *ws = w[s];
        w[s] = NULL;
        st = fivo_tfrecord_writer_commit(ws, err);
        if (st != FIVO_OK) { /* undo the splits already renamed into place */
            for (int k = 0; k < s; k++) {
                snprintf(path, sizeof path, "%s/%s", out, names[k]);
                unlink(path);
            }
            goto done;
        }
    }
    if ((st = write_stats(out, mean, std, spt, count, err)) != FIVO_OK) {
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s", out, names[k]);
            unlink(path);
        }
        goto done;
    }
    if (report != NULL) {
        size_t split_counts[3] = {n_train, n_valid, test.n};
        report_convert(report, split_counts, mean, std, spt, count, out);
    }
done:
    for (int s = 0; s < 3; s++)
        fivo_tfrecord_writer_abort(w[s]);
    free(perm);
    free(train);
    free(valid);
    free(wb.s);
    free(fbuf);
    strlist_free(&all_train);
    strlist_free(&test);
    return st;
}

static fivo_status tm_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    (void)cfg;
    (void)split;
    *self = NULL;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                          "timit only converts raw TIMIT (--mode=convert); read the converted "
                          "files with --dataset_type=speech --dataset_path=%s",
                          path ? path : "<out_dir>/<split>");
}

static void tm_close(void *self) { (void)self; }

static fivo_status tm_info(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)self;
    (void)out;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "timit: nothing is open");
}

static fivo_status tm_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    (void)self, (void)batch_size, (void)shuffle, (void)seed, (void)index, (void)out;
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "timit: nothing is open");
}

static const fivo_dataset_vtable VTABLE = {
    .open = tm_open,
    .close = tm_close,
    .info = tm_info,
    .batch = tm_batch,
    .convert = tm_convert,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "timit",
    .version = "1.0.0",
    .description = "converts raw TIMIT (NIST SPHERE) into speech TFRecords: train/valid/test",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
