/* Reports (see fivo/metrics.h): flat named values kept in insertion order,
 * written as one JSON line. Numbers use the shortest text that reads back to
 * the same double, so metrics.jsonl is exact; non-finite numbers are null. */
#define _POSIX_C_SOURCE 200809L
#include <fivo/internal/metrics.h>
#include <fivo/internal/log.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

typedef enum { VAL_NUMBER, VAL_INT, VAL_STRING } val_type;

typedef struct report_value {
    char *name;
    val_type type;
    double d;
    int64_t i;
    char *s;
} report_value;

struct fivo_report {
    GArray *values; /* report_value */
    char *json;     /* cached, dropped on change */
    char *text;
};

static void value_clear(report_value *v)
{
    g_free(v->name);
    g_free(v->s);
}

static void invalidate(fivo_report *r)
{
    g_clear_pointer(&r->json, g_free);
    g_clear_pointer(&r->text, g_free);
}

static report_value *slot(fivo_report *r, const char *name)
{
    for (guint i = 0; i < r->values->len; i++) {
        report_value *v = &g_array_index(r->values, report_value, i);
        if (strcmp(v->name, name) == 0) {
            g_clear_pointer(&v->s, g_free);
            return v;
        }
    }
    report_value nv = {.name = g_strdup(name)};
    g_array_append_val(r->values, nv);
    return &g_array_index(r->values, report_value, r->values->len - 1);
}

fivo_report *fivo_report_new(const char *mode)
{
    fivo_report *r = g_new0(fivo_report, 1);
    r->values = g_array_new(FALSE, TRUE, sizeof(report_value));
    fivo_report_set_string(r, "mode", mode != NULL ? mode : "unknown");
    fivo_report_set_number(r, "time", (double)g_get_real_time() / 1e6);
    return r;
}

void fivo_report_free(fivo_report *r)
{
    if (r == NULL)
        return;
    for (guint i = 0; i < r->values->len; i++)
        value_clear(&g_array_index(r->values, report_value, i));
    g_array_free(r->values, TRUE);
    invalidate(r);
    g_free(r);
}

void fivo_report_set_number(fivo_report *r, const char *name, double value)
{
    if (r == NULL || name == NULL)
        return;
    invalidate(r);
    report_value *v = slot(r, name);
    v->type = VAL_NUMBER;
    v->d = value;
}

void fivo_report_set_int(fivo_report *r, const char *name, int64_t value)
{
    if (r == NULL || name == NULL)
        return;
    invalidate(r);
    report_value *v = slot(r, name);
    v->type = VAL_INT;
    v->i = value;
}

void fivo_report_set_string(fivo_report *r, const char *name, const char *value)
{
    if (r == NULL || name == NULL)
        return;
    invalidate(r);
    report_value *v = slot(r, name);
    v->type = VAL_STRING;
    v->s = g_strdup(value != NULL ? value : "");
}

static const report_value *lookup(const fivo_report *r, const char *name)
{
    if (r == NULL || name == NULL)
        return NULL;
    for (guint i = 0; i < r->values->len; i++) {
        const report_value *v = &g_array_index(r->values, report_value, i);
        if (strcmp(v->name, name) == 0)
            return v;
    }
    return NULL;
}

fivo_status fivo_report_get_number(const fivo_report *r, const char *name, double *out)
{
    const report_value *v = lookup(r, name);
    if (v == NULL || v->type == VAL_STRING)
        return FIVO_ERR_NOT_FOUND;
    if (out != NULL)
        *out = v->type == VAL_INT ? (double)v->i : v->d;
    return FIVO_OK;
}

const char *fivo_report_get_string(const fivo_report *r, const char *name)
{
    const report_value *v = lookup(r, name);
    return v != NULL && v->type == VAL_STRING ? v->s : NULL;
}

int fivo_report_count(const fivo_report *r)
{
    return r != NULL ? (int)r->values->len : 0;
}

const char *fivo_report_name_at(const fivo_report *r, int i)
{
    if (r == NULL || i < 0 || (guint)i >= r->values->len)
        return NULL;
    return g_array_index(r->values, report_value, i).name;
}

/* Shortest of %.15g..%.17g that reads back exactly (locale independent). */
static void format_double(GString *out, double d)
{
    if (!isfinite(d)) {
        g_string_append(out, "null");
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int prec = 15; prec <= 17; prec++) {
        char fmt[8];
        snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof buf, fmt, d);
        if (prec == 17 || g_ascii_strtod(buf, NULL) == d)
            break;
    }
    g_string_append(out, buf);
}

static void json_string(GString *out, const char *s)
{
    char *valid = g_utf8_make_valid(s, -1); /* bad bytes become U+FFFD */
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)valid; *p; p++) {
        switch (*p) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
    g_free(valid);
}

const char *fivo_report_json(fivo_report *r)
{
    if (r == NULL)
        return "{}";
    if (r->json != NULL)
        return r->json;
    GString *out = g_string_new("{");
    for (guint i = 0; i < r->values->len; i++) {
        const report_value *v = &g_array_index(r->values, report_value, i);
        if (i > 0)
            g_string_append_c(out, ',');
        json_string(out, v->name);
        g_string_append_c(out, ':');
        switch (v->type) {
        case VAL_NUMBER: format_double(out, v->d); break;
        case VAL_INT: g_string_append_printf(out, "%" PRId64, v->i); break;
        case VAL_STRING: json_string(out, v->s); break;
        }
    }
    g_string_append_c(out, '}');
    r->json = g_string_free(out, FALSE);
    return r->json;
}

const char *fivo_report_text(fivo_report *r)
{
    if (r == NULL)
        return "";
    if (r->text != NULL)
        return r->text;
    GString *out = g_string_new(fivo_report_get_string(r, "mode"));
    const report_value *step = lookup(r, "step");
    if (step != NULL && step->type == VAL_INT)
        g_string_append_printf(out, " step %" PRId64, step->i);
    else if (step != NULL && step->type == VAL_NUMBER)
        g_string_append_printf(out, " step %.7g", step->d);
    g_string_append_c(out, ':');
    bool first = true;
    for (guint i = 0; i < r->values->len; i++) {
        const report_value *v = &g_array_index(r->values, report_value, i);
        if (strcmp(v->name, "mode") == 0 || strcmp(v->name, "time") == 0 ||
            strcmp(v->name, "step") == 0)
            continue;
        g_string_append_printf(out, "%s %s ", first ? "" : ",", v->name);
        first = false;
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        switch (v->type) {
        case VAL_NUMBER:
            if (isfinite(v->d))
                g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.7g", v->d));
            else
                g_string_append(out, isnan(v->d) ? "nan" : v->d > 0 ? "inf" : "-inf");
            break;
        case VAL_INT: g_string_append_printf(out, "%" PRId64, v->i); break;
        case VAL_STRING: g_string_append(out, v->s); break;
        }
    }
    r->text = g_string_free(out, FALSE);
    return r->text;
}

fivo_status fivo_report_append(fivo_report *r, const char *path, fivo_error *err)
{
    if (r == NULL || path == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "metrics: no report or no file name");
    /* One write of the whole line with O_APPEND: concurrent writers never
     * interleave within a line; fsync so a crash keeps what was reported. */
    char *line = g_strconcat(fivo_report_json(r), "\n", NULL);
    size_t len = strlen(line);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        g_free(line);
        return fivo_error_set(err, FIVO_ERR_IO, "%s: cannot open metrics log: %s", path,
                              g_strerror(e));
    }
    /* Where our line starts: a failed append is cut back to it, so the log
     * never keeps a torn line (the earlier lines stay as they were). */
    struct stat sb;
    off_t start = fstat(fd, &sb) == 0 ? sb.st_size : -1;
    size_t done = 0;
    fivo_status st = FIVO_OK;
    while (done < len) {
        ssize_t n = write(fd, line + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot append metrics: %s", path,
                                g_strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (st == FIVO_OK && fsync(fd) != 0 && errno != EINVAL)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: fsync failed: %s", path, g_strerror(errno));
    if (st != FIVO_OK && done > 0 && start >= 0 && ftruncate(fd, start) != 0)
        fivo_log_warn("%s: cannot cut back a torn line: %s", path, g_strerror(errno));
    if (close(fd) != 0 && st == FIVO_OK)
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: close failed: %s", path, g_strerror(errno));
    g_free(line);
    return st;
}
