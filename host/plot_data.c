/* Readers for the plot mode (see plot_data.h). Both formats are read with
 * small parsers of exactly what the writers produce, so the host needs no
 * JSON or zip library; anything else is refused with the file named. */
#include "plot_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* ---- metrics.jsonl --------------------------------------------------------- */

typedef struct cursor {
    const char *p;
} cursor;

static void skip_ws(cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')
        c->p++;
}

/* A JSON string (after its opening quote) into a new UTF-8 string. */
static char *parse_string(cursor *c)
{
    GString *s = g_string_new(NULL);
    for (;;) {
        char ch = *c->p++;
        if (ch == '\0') {
            g_string_free(s, TRUE);
            return NULL;
        }
        if (ch == '"')
            break;
        if (ch != '\\') {
            g_string_append_c(s, ch);
            continue;
        }
        char e = *c->p++;
        switch (e) {
        case '"': case '\\': case '/': g_string_append_c(s, e); break;
        case 'b': g_string_append_c(s, '\b'); break;
        case 'f': g_string_append_c(s, '\f'); break;
        case 'n': g_string_append_c(s, '\n'); break;
        case 'r': g_string_append_c(s, '\r'); break;
        case 't': g_string_append_c(s, '\t'); break;
        case 'u': {
            char hex[5] = {0};
            for (int i = 0; i < 4; i++)
                if ((hex[i] = *c->p++) == '\0') {
                    g_string_free(s, TRUE);
                    return NULL;
                }
            g_string_append_unichar(s, (gunichar)strtoul(hex, NULL, 16));
            break;
        }
        default: g_string_free(s, TRUE); return NULL;
        }
    }
    return g_string_free(s, FALSE);
}

static int parse_object(const char *text, fivo_plot_line *out)
{
    cursor c = {text};
    GArray *fields = g_array_new(FALSE, TRUE, sizeof(fivo_plot_field));
    skip_ws(&c);
    int ok = *c.p++ == '{';
    skip_ws(&c);
    if (ok && *c.p == '}')
        c.p++;
    else
        while (ok) {
            skip_ws(&c);
            fivo_plot_field f = {0};
            ok = *c.p++ == '"' && (f.name = parse_string(&c)) != NULL;
            skip_ws(&c);
            ok = ok && *c.p++ == ':';
            skip_ws(&c);
            if (ok && *c.p == '"') {
                c.p++;
                ok = (f.string = parse_string(&c)) != NULL;
            } else if (ok && strncmp(c.p, "null", 4) == 0) {
                f.number = NAN;
                c.p += 4;
            } else if (ok && strncmp(c.p, "true", 4) == 0) {
                f.number = 1;
                c.p += 4;
            } else if (ok && strncmp(c.p, "false", 5) == 0) {
                f.number = 0;
                c.p += 5;
            } else if (ok) {
                char *end;
                f.number = g_ascii_strtod(c.p, &end);
                ok = end != c.p;
                c.p = end;
            }
            if (f.name != NULL)
                g_array_append_val(fields, f);
            skip_ws(&c);
            if (ok && *c.p == ',') {
                c.p++;
                continue;
            }
            ok = ok && *c.p++ == '}';
            break;
        }
    skip_ws(&c);
    ok = ok && *c.p == '\0';
    out->count = (int)fields->len;
    out->fields = (fivo_plot_field *)(void *)g_array_free(fields, FALSE);
    return ok;
}

static void line_free(fivo_plot_line *l)
{
    for (int i = 0; i < l->count; i++) {
        g_free(l->fields[i].name);
        g_free(l->fields[i].string);
    }
    g_free(l->fields);
}

fivo_status fivo_plot_read_metrics(const char *path, fivo_plot_metrics *out, fivo_error *err)
{
    memset(out, 0, sizeof *out);
    gchar *text = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, &len, &ge)) {
        fivo_status st = fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s", ge->message);
        g_error_free(ge);
        return st;
    }
    gchar **rows = g_strsplit(text, "\n", -1);
    g_free(text);
    int n = (int)g_strv_length(rows);
    out->lines = g_new0(fivo_plot_line, n > 0 ? n : 1);
    fivo_status st = FIVO_OK;
    for (int i = 0; i < n && st == FIVO_OK; i++) {
        if (rows[i][0] == '\0')
            continue;
        fivo_plot_line l;
        if (parse_object(rows[i], &l)) {
            out->lines[out->count++] = l;
        } else {
            line_free(&l);
            /* the last line of a file being written may be torn */
            if (i < n - 1 && !(i == n - 2 && rows[n - 1][0] == '\0'))
                st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s:%d: not a flat JSON object", path,
                                    i + 1);
        }
    }
    g_strfreev(rows);
    if (st != FIVO_OK)
        fivo_plot_metrics_free(out);
    return st;
}

void fivo_plot_metrics_free(fivo_plot_metrics *m)
{
    for (int i = 0; i < m->count; i++)
        line_free(&m->lines[i]);
    g_free(m->lines);
    memset(m, 0, sizeof *m);
}

const char *fivo_plot_string(const fivo_plot_line *l, const char *name)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->fields[i].name, name) == 0)
            return l->fields[i].string;
    return NULL;
}

int fivo_plot_number(const fivo_plot_line *l, const char *name, double *out)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->fields[i].name, name) == 0 && l->fields[i].string == NULL) {
            *out = l->fields[i].number;
            return 1;
        }
    return 0;
}

/* ---- samples.npz ----------------------------------------------------------- */

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* An .npy member: "\x93NUMPY", version, header length, a Python dict. */
static fivo_status parse_npy(const char *path, const uint8_t *p, uint64_t n, fivo_plot_array *out,
                             fivo_error *err)
{
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: member is not an .npy array", path);
    uint64_t hlen = p[6] == 1 ? le16(p + 8) : le32(p + 8);
    uint64_t start = (p[6] == 1 ? 10 : 12) + hlen;
    if (start > n || hlen > 65536)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: truncated .npy header", path);
    char *h = g_strndup((const char *)p + (p[6] == 1 ? 10 : 12), (gsize)hlen);
    int f8 = strstr(h, "'<f8'") != NULL;
    const char *shape = strstr(h, "'shape':");
    fivo_status st = FIVO_OK;
    if ((!f8 && strstr(h, "'<f4'") == NULL) || strstr(h, "'fortran_order': False") == NULL ||
        shape == NULL) {
        st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: need a little-endian float32/64 C-order "
                            "array, header %s", path, h);
        g_free(h);
        return st;
    }
    const char *q = strchr(shape, '(');
    out->ndim = 0;
    uint64_t count = 1;
    if (q != NULL)
        q++;
    while (q != NULL && out->ndim < 8) {
        while (*q == ' ')
            q++;
        if (*q == ')')
            break;
        char *end;
        long long d = strtoll(q, &end, 10);
        if (end == q || d < 0) {
            q = NULL;
            break;
        }
        out->shape[out->ndim++] = d;
        count *= (uint64_t)d;
        q = end;
        while (*q == ' ' || *q == ',')
            q++;
    }
    if (q == NULL || *q != ')') {
        st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: cannot read the shape in %s", path, h);
        g_free(h);
        return st;
    }
    g_free(h);
    size_t esz = f8 ? 8 : 4;
    if (count > (n - start) / esz)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: array data shorter than its shape", path);
    out->data = g_new(float, count > 0 ? count : 1);
    for (uint64_t i = 0; i < count; i++) {
        if (f8) {
            uint64_t u = le64(p + start + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            out->data[i] = (float)d;
        } else {
            uint32_t u = le32(p + start + 4 * i);
            memcpy(&out->data[i], &u, sizeof u);
        }
    }
    return FIVO_OK;
}

fivo_status fivo_plot_read_npz(const char *path, const char *name, fivo_plot_array *out,
                               fivo_error *err)
{
    memset(out, 0, sizeof *out);
    gchar *buf = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &buf, &len, &ge)) {
        fivo_status st = fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s", ge->message);
        g_error_free(ge);
        return st;
    }
    const uint8_t *b = (const uint8_t *)buf;
    char *want = g_strdup_printf("%s.npy", name);
    fivo_status st = fivo_error_set(err, FIVO_ERR_NOT_FOUND, "%s: no array '%s'", path, name);
    /* Local file headers in order; sizes from the header or its zip64 extra. */
    for (gsize pos = 0; pos + 30 <= len && le32(b + pos) == 0x04034b50;) {
        uint32_t method = le16(b + pos + 8), flags = le16(b + pos + 6);
        uint64_t csize = le32(b + pos + 18);
        uint32_t nlen = le16(b + pos + 26), xlen = le16(b + pos + 28);
        if (pos + 30 + nlen + xlen > len)
            break;
        const uint8_t *x = b + pos + 30 + nlen;
        if (csize == 0xffffffffu)
            for (uint32_t k = 0; k + 4 <= xlen;) {
                uint32_t id = le16(x + k), sz = le16(x + k + 2);
                if (id == 1 && sz >= 16 && k + 4 + sz <= xlen)
                    csize = le64(x + k + 12);
                k += 4 + sz;
            }
        gsize data = pos + 30 + nlen + xlen;
        if ((flags & 8) != 0 || method != 0 || csize > len - data) {
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: member at offset %zu is compressed "
                                "or has no sizes (write it with numpy.savez or fivo)", path,
                                (size_t)pos);
            break;
        }
        if (nlen == strlen(want) && memcmp(b + pos + 30, want, nlen) == 0) {
            st = parse_npy(path, b + data, csize, out, err);
            break;
        }
        pos = data + csize;
    }
    g_free(want);
    g_free(buf);
    return st;
}
