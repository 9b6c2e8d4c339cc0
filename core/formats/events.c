/* TensorBoard event files (see fivo/events.h).
 *
 * Why a hand encoder and not protobuf-c: the three messages are tiny and
 * fixed (a double, an int64, a string, and repeated {string, float}), and
 * the protobuf wire format for them is a dozen lines; protobuf-c would add a
 * generated-code step and a runtime dependency to libfivo for that. The
 * tests decode the files with Google's own protobuf library (python3-protobuf)
 * from a .proto schema written in the test, so the encoder is checked by an
 * independent reader. The TFRecord framing reuses fivo_crc32c and its mask. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/internal/events.h>

#include <fivo/tfrecord.h>
#include <fivo/internal/metrics.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- protobuf wire format ---------------------------------------------- */

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

typedef struct sink {
    uint8_t *out;
    size_t cap, n; /* n counts every byte, written or not, to size buffers */
} sink;

static void put(sink *s, uint8_t b)
{
    if (s->n < s->cap)
        s->out[s->n] = b;
    s->n++;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(sink *s, uint64_t v)
{
    while (v >= 0x80) {
        put(s, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put(s, (uint8_t)v);
}

static void put_key(sink *s, unsigned field, unsigned wire)
{
    put_varint(s, (uint64_t)(field << 3 | wire));
}

static void put_bytes(sink *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        put(s, b[i]);
}

/* Little-endian IEEE bits, whatever the host's byte order. */
static void put_double(sink *s, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    for (int i = 0; i < 8; i++)
        put(s, (uint8_t)(u >> (8 * i)));
}

static void put_float(sink *s, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    for (int i = 0; i < 4; i++)
        put(s, (uint8_t)(u >> (8 * i)));
}

static size_t len_field_size(size_t payload) { return 1 + varint_size(payload) + payload; }

static size_t value_size(const char *tag) { return len_field_size(strlen(tag)) + 1 + 4; }

size_t fivo_events_encode(uint8_t *out, size_t cap, double wall_time, int64_t step,
                          const char *file_version, const char *const *tags,
                          const double *values, int n)
{
    sink s = {out, cap, 0};
    put_key(&s, 1, WIRE_FIXED64); /* wall_time */
    put_double(&s, wall_time);
    put_key(&s, 2, WIRE_VARINT); /* step */
    put_varint(&s, (uint64_t)step);
    if (file_version != NULL) {
        put_key(&s, 3, WIRE_LEN);
        put_varint(&s, strlen(file_version));
        put_bytes(&s, file_version, strlen(file_version));
    }
    if (n > 0) {
        size_t summary = 0;
        for (int i = 0; i < n; i++)
            summary += len_field_size(value_size(tags[i]));
        put_key(&s, 5, WIRE_LEN); /* summary */
        put_varint(&s, summary);
        for (int i = 0; i < n; i++) {
            size_t tl = strlen(tags[i]);
            put_key(&s, 1, WIRE_LEN); /* Summary.value */
            put_varint(&s, value_size(tags[i]));
            put_key(&s, 1, WIRE_LEN); /* Value.tag */
            put_varint(&s, tl);
            put_bytes(&s, tags[i], tl);
            put_key(&s, 2, WIRE_FIXED32); /* Value.simple_value */
            put_float(&s, (float)values[i]);
        }
    }
    return s.n;
}

/* ---- TFRecord framing, appended with one write ------------------------- */

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static fivo_status write_all(int fd, const uint8_t *p, size_t n, const char *path,
                             fivo_error *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot write event: %s", path,
                                  w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return FIVO_OK;
}

/* One record: the whole frame is built first so it reaches the file in one
 * write() (a reader never sees a header without its data unless the
 * writer died mid-write, which readers treat as the end). */
static fivo_status append_event(int fd, const char *path, double wall_time, int64_t step,
                                const char *file_version, const char *const *tags,
                                const double *values, int n, fivo_error *err)
{
    size_t len = fivo_events_encode(NULL, 0, wall_time, step, file_version, tags, values, n);
    uint8_t *rec = malloc(len + 16);
    if (rec == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    le64(rec, (uint64_t)len);
    le32(rec + 8, fivo_crc32c_mask(fivo_crc32c(rec, 8)));
    fivo_events_encode(rec + 12, len, wall_time, step, file_version, tags, values, n);
    le32(rec + 12 + len, fivo_crc32c_mask(fivo_crc32c(rec + 12, len)));
    fivo_status st = write_all(fd, rec, len + 16, path, err);
    free(rec);
    return st;
}

fivo_status fivo_events_create(const char *logdir, double wall_time, char *path,
                               size_t path_size, fivo_error *err)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    long secs = (long)floor(wall_time);
    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        int len = attempt == 0
                      ? snprintf(path, path_size, "%s/events.out.tfevents.%ld.%s", logdir, secs,
                                 host)
                      : snprintf(path, path_size, "%s/events.out.tfevents.%ld.%s.%ld", logdir,
                                 secs, host, (long)getpid());
        if (len < 0 || (size_t)len >= path_size)
            return fivo_error_set(err, FIVO_ERR_INVALID, "%s: event file path too long", logdir);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot create event file: %s", path,
                                  strerror(errno));
    }
    if (fd < 0)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: event file exists", path);
    fivo_status st = append_event(fd, path, wall_time, 0, "brain.Event:2", NULL, NULL, 0, err);
    if (close(fd) != 0 && st == FIVO_OK)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: %s", path, strerror(errno));
    return st;
}

fivo_status fivo_events_append_scalars(const char *path, double wall_time, int64_t step,
                                       const char *const *tags, const double *values, int n,
                                       fivo_error *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot open event file: %s", path,
                              strerror(errno));
    fivo_status st = append_event(fd, path, wall_time, step, NULL, tags, values, n, err);
    if (close(fd) != 0 && st == FIVO_OK)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: %s", path, strerror(errno));
    return st;
}

fivo_status fivo_events_append_report(const char *path, const fivo_report *r,
                                      const char *tag_prefix, fivo_error *err)
{
    int count = fivo_report_count(r);
    double wall_time = 0.0, stepd = 0.0;
    fivo_report_get_number(r, "time", &wall_time);
    fivo_report_get_number(r, "step", &stepd);
    char **tags = calloc((size_t)count + 1, sizeof *tags);
    double *values = calloc((size_t)count + 1, sizeof *values);
    fivo_status st = FIVO_OK;
    int n = 0;
    if (tags == NULL || values == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t plen = strlen(tag_prefix);
    for (int i = 0; i < count; i++) {
        const char *name = fivo_report_name_at(r, i);
        double v;
        if (strcmp(name, "time") == 0 || strcmp(name, "step") == 0 ||
            fivo_report_get_number(r, name, &v) != FIVO_OK)
            continue;
        tags[n] = malloc(plen + strlen(name) + 1);
        if (tags[n] == NULL) {
            st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        memcpy(tags[n], tag_prefix, plen);
        strcpy(tags[n] + plen, name);
        values[n++] = v;
    }
    if (n > 0)
        st = fivo_events_append_scalars(path, wall_time, (int64_t)stepd,
                                        (const char *const *)tags, values, n, err);
out:
    for (int i = 0; tags != NULL && i < n; i++)
        free(tags[i]);
    free(tags);
    free(values);
    return st;
}
