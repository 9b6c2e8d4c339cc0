/* Checkpoint files (see fivo/checkpoint.h for the layout). */
#define _POSIX_C_SOURCE 200809L
#include "bytes.h"
#include "crc_check.h"

#include <fivo/internal/checkpoint.h>
#include <fivo/atomic_file.h>
#include <fivo/internal/crc32.h>
#include <fivo/internal/log.h>
#include <fivo/internal/optim.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'F', 'I', 'V', 'O', 'C', 'K', 'P', 'T'};
static const char END_MAGIC[8] = {'F', 'I', 'V', 'O', 'E', 'N', 'D', '!'};
/* Header bytes by version: version 2 widens the flags from u32 to u64. */
#define HEADER_BYTES_V1 (8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4)
#define HEADER_BYTES_V2 (HEADER_BYTES_V1 + 4)

/* Version 1's u32 flags: bit 31 | batch_size (bits 0..19) | shards (bits
 * 20..30); false when the layout does not fit them. */
static bool flags_to_v1(uint64_t flags, uint32_t *v1)
{
    int batch = 0, shards = 0;
    if (!fivo_checkpoint_layout_get(flags, &batch, &shards)) {
        *v1 = 0;
        return flags == 0;
    }
    if (batch > 0xFFFFF || shards > 0x7FF)
        return false;
    *v1 = 0x80000000u | (uint32_t)batch | ((uint32_t)shards << 20);
    return true;
}

static uint64_t flags_from_v1(uint32_t v1)
{
    if (!(v1 & 0x80000000u))
        return 0;
    return fivo_checkpoint_layout((int)(v1 & 0xFFFFFu), (int)((v1 >> 20) & 0x7FFu));
}

enum { REC_PARAM = 0, REC_ADAM_M = 1, REC_ADAM_V = 2 };

/* ---- writing (little endian, through bytes.h) ------------------------------ */

static void put_f64(fivo__bytes *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    fivo__bytes_u64(b, v);
}

static void put_floats(fivo__bytes *b, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, &x[i], 4);
        fivo__bytes_u32(b, v);
    }
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_record(fivo__bytes *b, uint32_t kind, const char *name, int rows, int cols,
                       const float *data)
{
    size_t start = b->n;
    uint32_t len = (uint32_t)strlen(name);
    fivo__bytes_u32(b, kind);
    fivo__bytes_u32(b, len);
    fivo__bytes_put(b, name, len);
    fivo__bytes_u32(b, (uint32_t)rows);
    fivo__bytes_u32(b, (uint32_t)cols);
    put_floats(b, data, (size_t)rows * (size_t)cols);
    if (!b->oom)
        fivo__bytes_u32(b, fivo_crc32_update(0, b->p + start, b->n - start));
}

fivo_status fivo_checkpoint_save(const char *path, const fivo_params *params, fivo_adam *adam,
                                 const fivo_checkpoint_meta *meta, fivo_error *err)
{
    int np = fivo_params_count(params);
    uint32_t nrec = (uint32_t)np * (adam ? 3u : 1u);
    fivo__bytes b = {0};
    uint64_t flags = meta ? meta->flags : 0;
    uint32_t v1_flags = 0;
    bool v1 = flags_to_v1(flags, &v1_flags);
    fivo__bytes_put(&b, MAGIC, 8);
    fivo__bytes_u32(&b, v1 ? 1u : 2u);
    fivo__bytes_u32(&b, nrec);
    fivo__bytes_u64(&b, meta ? meta->step : 0);
    fivo__bytes_u64(&b, meta ? meta->seed : 0);
    fivo__bytes_u64(&b, adam ? fivo_adam_get_step(adam) : (meta ? meta->adam_step : 0));
    put_f64(&b, meta ? meta->best_bound : NAN);
    if (v1)
        fivo__bytes_u32(&b, v1_flags);
    else
        fivo__bytes_u64(&b, flags);
    if (!b.oom)
        fivo__bytes_u32(&b, fivo_crc32_update(0, b.p, b.n));
    for (int i = 0; i < np; i++) {
        const char *name;
        fivo_tensor *t = fivo_params_at(params, i, &name);
        put_record(&b, REC_PARAM, name, t->rows, t->cols, t->data);
        if (adam) {
            put_record(&b, REC_ADAM_M, name, t->rows, t->cols, fivo_adam_moment(adam, i, 0));
            put_record(&b, REC_ADAM_V, name, t->rows, t->cols, fivo_adam_moment(adam, i, 1));
        }
    }
    fivo__bytes_put(&b, END_MAGIC, 8);
    if (!b.oom)
        fivo__bytes_u32(&b, fivo_crc32_update(0, b.p, b.n));
    if (b.oom) {
        free(b.p);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory building the checkpoint",
                              path);
    }
    fivo_status s = fivo_file_write_atomic(path, b.p, b.n, err);
    free(b.p);
    return s;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct record {
    uint32_t kind;
    char name[256];
    int rows, cols;
    const unsigned char *data;
} record;

typedef struct parsed {
    unsigned char *file;
    size_t size;
    fivo_checkpoint_meta meta;
    uint32_t nrec;
    record *recs;
} parsed;

static void parsed_free(parsed *p)
{
    free(p->file);
    free(p->recs);
    memset(p, 0, sizeof *p);
}

static fivo_status read_file(const char *path, unsigned char **out, size_t *size, fivo_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fivo_error_set(err, errno == ENOENT ? FIVO_ERR_NOT_FOUND : FIVO_ERR_IO,
                              "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot seek", path);
    }
    long n = ftell(f);
    rewind(f);
    if (n < 0) {
        fclose(f);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot size", path);
    }
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p) {
        fclose(f);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory (%ld bytes)", path, n);
    }
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        fclose(f);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    *out = p;
    *size = (size_t)n;
    return FIVO_OK;
}

/* The file's envelope: magic, version, sizes, end marker, the file's and
 * the header's checksums. Sets *version_out and *header_out (bytes). */
static fivo_status check_envelope(const char *path, const unsigned char *p, size_t n,
                                  uint32_t *version_out, size_t *header_out, fivo_error *err)
{
    if (n < 8 || memcmp(p, MAGIC, 8) != 0)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: not a fivo checkpoint (bad magic)", path);
    if (n < HEADER_BYTES_V1 + 12)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: truncated checkpoint (%zu bytes, shorter than a header)", path,
                              n);
    uint32_t version = get_u32(p + 8);
    *version_out = version;
    if (version < 1 || version > FIVO_CHECKPOINT_VERSION)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: checkpoint version %u, this fivo reads versions 1 to %u", path,
                              version, FIVO_CHECKPOINT_VERSION);
    const size_t header = version == 1 ? HEADER_BYTES_V1 : HEADER_BYTES_V2;
    *header_out = header;
    if (n < header + 12)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: truncated checkpoint (%zu bytes, shorter than a header)", path,
                              n);
    if (memcmp(p + n - 12, END_MAGIC, 8) != 0)
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: truncated checkpoint (no end marker in the last 12 of %zu "
                              "bytes)",
                              path, n);
    if (FIVO_CRC_MISMATCH(fivo_crc32_update(0, p, n - 4), get_u32(p + n - 4)))
        return fivo_error_set(err, FIVO_ERR_FORMAT,
                              "%s: corrupted checkpoint (file checksum mismatch)", path);
    if (FIVO_CRC_MISMATCH(fivo_crc32_update(0, p, header - 4), get_u32(p + header - 4)))
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: corrupted checkpoint header", path);
    return FIVO_OK;
}

static fivo_status parse(const char *path, parsed *out, fivo_error *err)
{
    memset(out, 0, sizeof *out);
    fivo_status s = read_file(path, &out->file, &out->size, err);
    if (s != FIVO_OK)
        return s;
    const unsigned char *p = out->file;
    size_t n = out->size;
    uint32_t version = 0;
    size_t header = 0;
    if ((s = check_envelope(path, p, n, &version, &header, err)) != FIVO_OK) {
        parsed_free(out);
        return s;
    }
    out->nrec = get_u32(p + 12);
    out->meta.step = get_u64(p + 16);
    out->meta.seed = get_u64(p + 24);
    out->meta.adam_step = get_u64(p + 32);
    uint64_t bb = get_u64(p + 40);
    memcpy(&out->meta.best_bound, &bb, 8);
    out->meta.flags = version == 1 ? flags_from_v1(get_u32(p + 48)) : get_u64(p + 48);
    size_t end = n - 12;
    if (out->nrec > end / 20) {
        uint32_t nrec = out->nrec; /* p is freed with out (found by fuzz_checkpoint) */
        parsed_free(out);
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: record count %u does not fit the file",
                              path, nrec);
    }
    out->recs = calloc(out->nrec ? out->nrec : 1, sizeof(record));
    if (!out->recs) {
        parsed_free(out);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t off = header;
    for (uint32_t i = 0; i < out->nrec; i++) {
        size_t start = off;
        record *r = &out->recs[i];
        if (off + 8 > end)
            goto truncated;
        r->kind = get_u32(p + off);
        uint32_t len = get_u32(p + off + 4);
        off += 8;
        if (len == 0 || len >= sizeof r->name || off + len + 8 > end)
            goto bad_record;
        memcpy(r->name, p + off, len);
        r->name[len] = 0;
        off += len;
        uint32_t rows = get_u32(p + off), cols = get_u32(p + off + 4);
        off += 8;
        uint64_t bytes = (uint64_t)rows * cols * 4u;
        if (rows > (1u << 30) || cols > (1u << 30) || bytes > end - off || off + bytes + 4 > end)
            goto bad_record;
        r->rows = (int)rows;
        r->cols = (int)cols;
        r->data = p + off;
        off += (size_t)bytes;
        if (FIVO_CRC_MISMATCH(fivo_crc32_update(0, p + start, off - start), get_u32(p + off))) {
            fivo_status st = fivo_error_set(err, FIVO_ERR_FORMAT,
                                            "%s: corrupted checkpoint (record %u '%s' checksum "
                                            "mismatch)",
                                            path, i, r->name);
            parsed_free(out);
            return st;
        }
        off += 4;
        continue;
    bad_record: {
        fivo_status st = fivo_error_set(err, FIVO_ERR_FORMAT,
                                        "%s: malformed record %u at offset %zu", path, i, start);
        parsed_free(out);
        return st;
    }
    }
    if (off != end) {
        parsed_free(out);
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: %zu stray bytes after the last record",
                              path, end - off);
    }
    return FIVO_OK;
truncated:
    parsed_free(out);
    return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: truncated checkpoint", path);
}

fivo_status fivo_checkpoint_verify(const char *path, fivo_checkpoint_meta *meta, fivo_error *err)
{
    parsed ps;
    fivo_status s = parse(path, &ps, err);
    if (s != FIVO_OK)
        return s;
    if (meta)
        *meta = ps.meta;
    parsed_free(&ps);
    return FIVO_OK;
}

static void copy_floats(float *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = get_u32(src + 4 * i);
        memcpy(&dst[i], &v, 4);
    }
}

/* The trainer's own state in the store (FIVO_CHECKPOINT_TRAINER_PREFIX):
 * skipped where the file or the store lacks it. */
static bool trainer_state(const char *name)
{
    return strncmp(name, FIVO_CHECKPOINT_TRAINER_PREFIX, strlen(FIVO_CHECKPOINT_TRAINER_PREFIX)) == 0;
}

fivo_status fivo_checkpoint_load(const char *path, fivo_params *params, fivo_adam *adam,
                                 fivo_checkpoint_meta *meta, fivo_error *err)
{
    parsed ps;
    fivo_status s = parse(path, &ps, err);
    if (s != FIVO_OK)
        return s;
    int np = fivo_params_count(params);
    /* Which record holds each (param, kind); validate before writing. */
    int *where = malloc(sizeof(int) * 3 * (size_t)(np ? np : 1));
    if (!where) {
        parsed_free(&ps);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < 3 * np; i++)
        where[i] = -1;
    for (uint32_t r = 0; r < ps.nrec; r++) {
        const record *rec = &ps.recs[r];
        if (rec->kind > REC_ADAM_V) {
            s = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: record '%s' has unknown kind %u", path,
                               rec->name, rec->kind);
            goto done;
        }
        int idx = -1;
        for (int i = 0; i < np; i++) {
            const char *name;
            fivo_params_at(params, i, &name);
            if (strcmp(name, rec->name) == 0) {
                idx = i;
                break;
            }
        }
        /* The trainer's own state (FIVO_CHECKPOINT_TRAINER_PREFIX): only
         * a training run that keeps it reads it back. */
        if (idx < 0 && trainer_state(rec->name))
            continue;
        if (idx < 0) {
            s = fivo_error_set(err, FIVO_ERR_INVALID,
                               "%s: parameter '%s' is not in this model (a different model or "
                               "configuration wrote the checkpoint)",
                               path, rec->name);
            goto done;
        }
        fivo_tensor *t = fivo_params_at(params, idx, NULL);
        if (t->rows != rec->rows || t->cols != rec->cols) {
            s = fivo_error_set(err, FIVO_ERR_INVALID,
                               "%s: parameter '%s' is %dx%d in the checkpoint, %dx%d in the model",
                               path, rec->name, rec->rows, rec->cols, t->rows, t->cols);
            goto done;
        }
        where[3 * idx + (int)rec->kind] = (int)r;
    }
    for (int i = 0; i < np; i++) {
        const char *name;
        fivo_params_at(params, i, &name);
        if (where[3 * i] < 0 && trainer_state(name))
            continue; /* a run that turned it on: it starts afresh */
        if (where[3 * i] < 0) {
            s = fivo_error_set(err, FIVO_ERR_INVALID, "%s: parameter '%s' is missing", path, name);
            goto done;
        }
        if (adam && i > 0 && (where[3 * i + 1] < 0) != (where[1] < 0)) {
            s = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: Adam moments of '%s' are missing", path,
                               name);
            goto done;
        }
    }
    /* Training never saves a NaN or inf; one in a file is damage (or a bug
     * upstream) and would poison every result: refuse it, naming the tensor. */
    for (int i = 0; i < np; i++) {
        const char *name;
        fivo_tensor *t = fivo_params_at(params, i, &name);
        size_t n = fivo_tensor_size(t);
        for (int k = 0; k < 3; k++) {
            int r = where[3 * i + k];
            if (r < 0 || (k > 0 && !adam))
                continue;
            for (size_t j = 0; j < n; j++) {
                uint32_t v = get_u32(ps.recs[r].data + 4 * j);
                float x;
                memcpy(&x, &v, 4);
                if (!isfinite(x)) {
                    s = fivo_error_set(err, FIVO_ERR_FORMAT,
                                       "%s: %s '%s' holds a non-finite value (%g at index %zu); "
                                       "refusing the checkpoint",
                                       path, k == 0 ? "parameter" : "Adam moment of", name,
                                       (double)x, j);
                    goto done;
                }
            }
        }
    }
    for (int i = 0; i < np; i++) {
        fivo_tensor *t = fivo_params_at(params, i, NULL);
        size_t n = fivo_tensor_size(t);
        if (where[3 * i] < 0)
            continue; /* trainer state the file lacks */
        copy_floats(t->data, ps.recs[where[3 * i]].data, n);
        if (adam && where[3 * i + 1] >= 0 && where[3 * i + 2] >= 0) {
            copy_floats(fivo_adam_moment(adam, i, 0), ps.recs[where[3 * i + 1]].data, n);
            copy_floats(fivo_adam_moment(adam, i, 1), ps.recs[where[3 * i + 2]].data, n);
        }
    }
    if (adam && np > 0 && where[1] >= 0)
        fivo_adam_set_step(adam, ps.meta.adam_step);
    if (meta)
        *meta = ps.meta;
    s = FIVO_OK;
done:
    free(where);
    parsed_free(&ps);
    return s;
}

/* ---- numbered checkpoints in a folder ---------------------------------- */

static int parse_numbered(const char *name, uint64_t *step)
{
    /* ckpt-<digits>.fivo */
    if (strncmp(name, "ckpt-", 5) != 0)
        return 0;
    const char *p = name + 5;
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || strcmp(p, ".fivo") != 0)
        return 0;
    *step = v;
    return 1;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* All numbered steps, newest first (malloc'd); returns the count or -1. */
static int list_all(const char *dir, uint64_t **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t cap = 16, n = 0;
    uint64_t *v = malloc(cap * sizeof *v);
    if (!v) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t step;
        if (!parse_numbered(e->d_name, &step))
            continue;
        if (n == cap) {
            uint64_t *q = realloc(v, 2 * cap * sizeof *v);
            if (!q) {
                free(v);
                closedir(d);
                return -1;
            }
            v = q;
            cap *= 2;
        }
        v[n++] = step;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_desc);
    *out = v;
    return (int)n;
}

int fivo_checkpoint_list(const char *dir, uint64_t *steps, int max)
{
    uint64_t *all;
    int n = list_all(dir, &all);
    if (n < 0)
        return 0;
    int k = n < max ? n : max;
    for (int i = 0; i < k; i++)
        steps[i] = all[i];
    free(all);
    return k;
}

static char *numbered_path(const char *dir, uint64_t step)
{
    size_t n = strlen(dir) + 40;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/ckpt-%012" PRIu64 ".fivo", dir, step);
    return p;
}

fivo_status fivo_checkpoint_save_numbered(const char *dir, const fivo_params *params,
                                          fivo_adam *adam, const fivo_checkpoint_meta *meta,
                                          int keep, char **out_path, fivo_error *err)
{
    if (out_path)
        *out_path = NULL;
    char *path = numbered_path(dir, meta ? meta->step : 0);
    if (!path)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", dir);
    fivo_status s = fivo_checkpoint_save(path, params, adam, meta, err);
    if (s != FIVO_OK) {
        free(path);
        return s;
    }
    if (keep > 0) {
        uint64_t *all;
        int n = list_all(dir, &all);
        for (int i = keep; i < n; i++) {
            char *old = numbered_path(dir, all[i]);
            if (old && unlink(old) != 0)
                fivo_log_warn("%s: cannot remove old checkpoint: %s", old, strerror(errno));
            free(old);
        }
        free(all);
    }
    if (out_path)
        *out_path = path;
    else
        free(path);
    return FIVO_OK;
}

fivo_status fivo_checkpoint_restore_latest(const char *dir, fivo_params *params, fivo_adam *adam,
                                           fivo_checkpoint_meta *meta, char **used_path,
                                           fivo_error *err)
{
    if (used_path)
        *used_path = NULL;
    uint64_t *all;
    int n = list_all(dir, &all);
    if (n < 0)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", dir);
    if (n == 0) {
        free(all);
        return fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no checkpoint (ckpt-*.fivo)", dir);
    }
    fivo_error last;
    fivo_error_clear(&last);
    for (int i = 0; i < n; i++) {
        char *path = numbered_path(dir, all[i]);
        if (!path)
            break;
        fivo_status s = fivo_checkpoint_load(path, params, adam, meta, &last);
        if (s == FIVO_OK) {
            if (i > 0)
                fivo_log_warn("restored the older checkpoint %s", path);
            free(all);
            if (used_path)
                *used_path = path;
            else
                free(path);
            return FIVO_OK;
        }
        if (s != FIVO_ERR_FORMAT && s != FIVO_ERR_IO) {
            /* A model mismatch is not fixed by an older file. */
            free(path);
            free(all);
            if (err)
                *err = last;
            return s;
        }
        fivo_log_warn("refusing checkpoint: %s", last.message);
        free(path);
    }
    free(all);
    return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: no valid checkpoint among %d (last error: %s)",
                          dir, n, last.message);
}
