/* A pickle virtual machine for a safe subset of protocols 0-4 (see pickle.h).
 * Bounded: the stack, the mark stack, the memo and the nesting depth all
 * have limits, and every read is checked against the end of the buffer. */
#include "pickle.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PKL_MAX_DEPTH 64       /* containers inside containers */
#define PKL_MAX_MARKS 64       /* open MARKs at once */
#define PKL_MAX_STACK (1u << 26)
#define PKL_CHUNK 4096         /* values per allocation block */

typedef struct pkl_chunk {
    struct pkl_chunk *next;
    size_t used;
    pkl_value v[PKL_CHUNK];
} pkl_chunk;

struct pkl_doc {
    pkl_chunk *chunks;
    /* ints 0..255 (the pianorolls' notes: one per note of every step) are
     * leaves nothing modifies: one shared value each instead of ~100 bytes
     * per occurrence, which made the parse tree the peak of a run on the
     * larger pickles */
    pkl_value *small_int[256];
};

typedef struct vm {
    const uint8_t *buf;
    size_t len, pos, op_pos;
    const char *name;
    fivo_error *err;
    pkl_doc *doc;
    pkl_value **stack;
    size_t sp, stack_cap;
    size_t marks[PKL_MAX_MARKS];
    int nmarks;
    pkl_value **memo;
    size_t memo_cap;
    size_t memo_count; /* distinct entries: MEMOIZE's next index */
} vm;

const char *pkl_type_name(pkl_type t)
{
    switch (t) {
    case PKL_NONE: return "None";
    case PKL_BOOL: return "bool";
    case PKL_INT: return "int";
    case PKL_FLOAT: return "float";
    case PKL_BYTES: return "bytes";
    case PKL_STR: return "str";
    case PKL_TUPLE: return "tuple";
    case PKL_LIST: return "list";
    case PKL_DICT: return "dict";
    case PKL_GLOBAL: return "global";
    case PKL_DTYPE: return "numpy dtype";
    case PKL_ARRAY: return "numpy array";
    }
    return "?";
}

/* ---- errors ------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static fivo_status fail(vm *m, fivo_status code, const char *fmt, ...)
{
    char msg[FIVO_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fivo_error_set(m->err, code, "%s: pickle offset %zu (opcode 0x%02x): %s", m->name,
                          m->op_pos, m->op_pos < m->len ? m->buf[m->op_pos] : 0u, msg);
}

#define NOMEM(m) fail((m), FIVO_ERR_NOMEM, "out of memory")
#define TRY(x)                                                                                     \
    do {                                                                                           \
        fivo_status _s = (x);                                                                      \
        if (_s != FIVO_OK)                                                                         \
            return _s;                                                                             \
    } while (0)

/* ---- values ------------------------------------------------------------- */

static pkl_value *new_value(vm *m, pkl_type t)
{
    pkl_chunk *c = m->doc->chunks;
    if (c == NULL || c->used == PKL_CHUNK) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        c->next = m->doc->chunks;
        m->doc->chunks = c;
    }
    pkl_value *v = &c->v[c->used++];
    v->type = t;
    v->offset = m->op_pos;
    return v;
}

static void free_value(pkl_value *v)
{
    switch (v->type) {
    case PKL_BYTES:
    case PKL_STR: free(v->u.s.data); break;
    case PKL_TUPLE:
    case PKL_LIST:
    case PKL_DICT: free(v->u.seq.items); break;
    case PKL_ARRAY: free(v->u.arr.data); break;
    default: break;
    }
}

void pkl_free(pkl_doc *doc)
{
    if (doc == NULL)
        return;
    pkl_chunk *c = doc->chunks;
    while (c != NULL) {
        pkl_chunk *next = c->next;
        for (size_t i = 0; i < c->used; i++)
            free_value(&c->v[i]);
        free(c);
        c = next;
    }
    free(doc);
}

static fivo_status make_string(vm *m, pkl_type t, const char *data, size_t n, pkl_value **out)
{
    pkl_value *v = new_value(m, t);
    if (v == NULL || (v->u.s.data = malloc(n + 1)) == NULL)
        return NOMEM(m);
    if (n > 0)
        memcpy(v->u.s.data, data, n);
    v->u.s.data[n] = '\0';
    v->u.s.len = n;
    *out = v;
    return FIVO_OK;
}

static fivo_status seq_reserve(vm *m, pkl_value *v, size_t extra)
{
    size_t need = v->u.seq.len + extra;
    if (need <= v->u.seq.cap)
        return FIVO_OK;
    size_t cap = v->u.seq.cap ? v->u.seq.cap : 4;
    while (cap < need)
        cap *= 2;
    pkl_value **items = realloc(v->u.seq.items, cap * sizeof *items);
    if (items == NULL)
        return NOMEM(m);
    v->u.seq.items = items;
    v->u.seq.cap = cap;
    return FIVO_OK;
}

/* Appends and keeps the container's depth up to date. */
static fivo_status seq_add(vm *m, pkl_value *c, pkl_value *item)
{
    TRY(seq_reserve(m, c, 1));
    c->u.seq.items[c->u.seq.len++] = item;
    if (item->depth + 1 > c->depth) {
        c->depth = item->depth + 1;
        if (c->depth > PKL_MAX_DEPTH)
            return fail(m, FIVO_ERR_FORMAT, "nesting deeper than %d levels", PKL_MAX_DEPTH);
    }
    return FIVO_OK;
}

/* A container from items[0..n). */
static fivo_status make_seq(vm *m, pkl_type t, pkl_value **items, size_t n, pkl_value **out)
{
    pkl_value *v = new_value(m, t);
    if (v == NULL)
        return NOMEM(m);
    v->depth = 1;
    TRY(seq_reserve(m, v, n));
    for (size_t i = 0; i < n; i++)
        TRY(seq_add(m, v, items[i]));
    *out = v;
    return FIVO_OK;
}

/* ---- the stack ---------------------------------------------------------- */

static fivo_status push(vm *m, pkl_value *v)
{
    if (m->sp == m->stack_cap) {
        if (m->stack_cap >= PKL_MAX_STACK)
            return fail(m, FIVO_ERR_FORMAT, "stack deeper than %u items", PKL_MAX_STACK);
        size_t cap = m->stack_cap ? m->stack_cap * 2 : 256;
        pkl_value **s = realloc(m->stack, cap * sizeof *s);
        if (s == NULL)
            return NOMEM(m);
        m->stack = s;
        m->stack_cap = cap;
    }
    m->stack[m->sp++] = v;
    return FIVO_OK;
}

static size_t stack_floor(const vm *m)
{
    return m->nmarks > 0 ? m->marks[m->nmarks - 1] : 0;
}

static fivo_status pop(vm *m, pkl_value **out)
{
    if (m->sp <= stack_floor(m))
        return fail(m, FIVO_ERR_FORMAT, "stack underflow");
    *out = m->stack[--m->sp];
    return FIVO_OK;
}

static fivo_status top(vm *m, pkl_value **out)
{
    if (m->sp <= stack_floor(m))
        return fail(m, FIVO_ERR_FORMAT, "stack underflow");
    *out = m->stack[m->sp - 1];
    return FIVO_OK;
}

/* Items since the last MARK: *items = stack + mark, *n of them; pops the mark. */
static fivo_status pop_mark(vm *m, pkl_value ***items, size_t *n)
{
    if (m->nmarks == 0)
        return fail(m, FIVO_ERR_FORMAT, "no MARK on the stack");
    size_t k = m->marks[--m->nmarks];
    *items = m->stack != NULL ? m->stack + k : NULL; /* no offset on NULL (UB; fuzz_pickle) */
    *n = m->sp - k;
    m->sp = k;
    return FIVO_OK;
}

/* ---- reading the buffer ------------------------------------------------- */

static fivo_status take(vm *m, size_t n, const uint8_t **out)
{
    if (n > m->len - m->pos)
        return fail(m, FIVO_ERR_FORMAT, "truncated: needs %zu more bytes, file ends after %zu",
                    n, m->len - m->pos);
    *out = m->buf + m->pos;
    m->pos += n;
    return FIVO_OK;
}

/* A text argument: the bytes up to '\n' (exclusive). */
static fivo_status take_line(vm *m, const char **line, size_t *n)
{
    const uint8_t *start = m->buf + m->pos;
    const uint8_t *nl = memchr(start, '\n', m->len - m->pos);
    if (nl == NULL)
        return fail(m, FIVO_ERR_FORMAT, "truncated: line argument has no newline");
    *line = (const char *)start;
    *n = (size_t)(nl - start);
    m->pos += *n + 1;
    return FIVO_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static fivo_status parse_int_text(vm *m, const char *s, size_t n, int64_t *out)
{
    char tmp[64];
    if (n > 0 && (s[n - 1] == 'L'))
        n--; /* Python 2 long suffix */
    if (n == 0 || n >= sizeof tmp)
        return fail(m, FIVO_ERR_FORMAT, "bad integer literal");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno == ERANGE)
        return fail(m, FIVO_ERR_FORMAT, "integer %s does not fit in 64 bits", tmp);
    if (end == tmp || *end != '\0')
        return fail(m, FIVO_ERR_FORMAT, "bad integer literal '%s'", tmp);
    *out = (int64_t)v;
    return FIVO_OK;
}

static fivo_status push_int(vm *m, pkl_type t, int64_t i)
{
    bool shared = t == PKL_INT && i >= 0 && i < 256;
    if (shared && m->doc->small_int[i] != NULL)
        return push(m, m->doc->small_int[i]);
    pkl_value *v = new_value(m, t);
    if (v == NULL)
        return NOMEM(m);
    v->u.i = i;
    if (shared)
        m->doc->small_int[i] = v;
    return push(m, v);
}

/* Two's complement little-endian integer of n bytes (LONG1/LONG4). */
static fivo_status push_long_bytes(vm *m, size_t n)
{
    const uint8_t *p = NULL;
    TRY(take(m, n, &p));
    if (n > 8)
        return fail(m, FIVO_ERR_FORMAT, "integer of %zu bytes does not fit in 64 bits", n);
    uint64_t u = n ? le(p, (int)n) : 0;
    if (n > 0 && n < 8 && (p[n - 1] & 0x80u))
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return push_int(m, PKL_INT, (int64_t)u);
}

/* Appends code point c as UTF-8. */
static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hexnum(const char *s, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return false;
        v = v * 16 + (uint32_t)h;
    }
    *out = v;
    return true;
}

/* Protocol 0 STRING: a quoted Python 2 string literal with backslash escapes. */
static fivo_status push_quoted(vm *m, const char *s, size_t n)
{
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
        return fail(m, FIVO_ERR_FORMAT, "STRING argument is not quoted");
    s++;
    n -= 2;
    char *o = malloc(n + 1);
    if (o == NULL)
        return NOMEM(m);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            o[k++] = s[i];
            continue;
        }
        if (++i == n) {
            free(o);
            return fail(m, FIVO_ERR_FORMAT, "STRING ends with a lone backslash");
        }
        char c = s[i];
        uint32_t v;
        switch (c) {
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\n': break; /* line continuation */
        case 'x':
            if (i + 2 >= n || !hexnum(s + i + 1, 2, &v)) {
                free(o);
                return fail(m, FIVO_ERR_FORMAT, "bad \\x escape in STRING");
            }
            o[k++] = (char)v;
            i += 2;
            break;
        default:
            if (c >= '0' && c <= '7') {
                v = 0;
                int d = 0;
                while (d < 3 && i < n && s[i] >= '0' && s[i] <= '7') {
                    v = v * 8 + (uint32_t)(s[i] - '0');
                    i++;
                    d++;
                }
                i--;
                o[k++] = (char)(v & 0xff);
            } else { /* Python keeps unknown escapes verbatim */
                o[k++] = '\\';
                o[k++] = c;
            }
        }
    }
    pkl_value *v = new_value(m, PKL_BYTES);
    if (v == NULL) {
        free(o);
        return NOMEM(m);
    }
    o[k] = '\0';
    v->u.s.data = o;
    v->u.s.len = k;
    return push(m, v);
}

/* Protocol 0 UNICODE: raw-unicode-escape (\uXXXX, \UXXXXXXXX, else latin-1). */
static fivo_status push_raw_unicode(vm *m, const char *s, size_t n)
{
    char *o = malloc(4 * n + 1);
    if (o == NULL)
        return NOMEM(m);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint8_t)s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            int digits = s[i + 1] == 'u' ? 4 : 8;
            if (i + 2 + (size_t)digits > n || !hexnum(s + i + 2, digits, &c) || c > 0x10ffff) {
                free(o);
                return fail(m, FIVO_ERR_FORMAT, "bad \\u escape in UNICODE");
            }
            i += 1 + (size_t)digits;
        }
        k += utf8_put(o + k, c);
    }
    o[k] = '\0';
    pkl_value *v = new_value(m, PKL_STR);
    if (v == NULL) {
        free(o);
        return NOMEM(m);
    }
    v->u.s.data = o;
    v->u.s.len = k;
    return push(m, v);
}

/* ---- memo --------------------------------------------------------------- */

static fivo_status memo_put(vm *m, uint64_t idx)
{
    pkl_value *v = NULL;
    TRY(top(m, &v));
    /* Picklers number memo entries densely from 0; one PUT costs at least
     * two bytes, so an index past the file length is garbage. */
    if (idx > m->len)
        return fail(m, FIVO_ERR_FORMAT, "memo index %llu out of range",
                    (unsigned long long)idx);
    if (idx >= m->memo_cap) {
        size_t cap = m->memo_cap ? m->memo_cap : 1024;
        while (cap <= idx)
            cap *= 2;
        pkl_value **mm = realloc(m->memo, cap * sizeof *mm);
        if (mm == NULL)
            return NOMEM(m);
        memset(mm + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *mm);
        m->memo = mm;
        m->memo_cap = cap;
    }
    if (m->memo[idx] == NULL)
        m->memo_count++;
    m->memo[idx] = v;
    return FIVO_OK;
}

static fivo_status memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || m->memo[idx] == NULL)
        return fail(m, FIVO_ERR_FORMAT, "memo key %llu was never stored",
                    (unsigned long long)idx);
    return push(m, m->memo[idx]);
}

/* ---- globals and numpy objects ------------------------------------------ */

static fivo_status resolve_global(vm *m, const char *mod, size_t mod_len, const char *name,
                                  size_t name_len)
{
    static const struct {
        const char *mod, *name;
        pkl_global g;
    } allowed[] = {
        {"numpy.core.multiarray", "scalar", PKL_G_SCALAR},
        {"numpy._core.multiarray", "scalar", PKL_G_SCALAR},
        {"numpy.core.multiarray", "_reconstruct", PKL_G_RECONSTRUCT},
        {"numpy._core.multiarray", "_reconstruct", PKL_G_RECONSTRUCT},
        {"numpy", "ndarray", PKL_G_NDARRAY},
        {"numpy", "dtype", PKL_G_DTYPE},
        {"_codecs", "encode", PKL_G_ENCODE},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strlen(allowed[i].mod) == mod_len && memcmp(allowed[i].mod, mod, mod_len) == 0 &&
            strlen(allowed[i].name) == name_len && memcmp(allowed[i].name, name, name_len) == 0) {
            pkl_value *v = new_value(m, PKL_GLOBAL);
            if (v == NULL)
                return NOMEM(m);
            v->u.g = allowed[i].g;
            return push(m, v);
        }
    }
    return fail(m, FIVO_ERR_FORMAT,
                "disallowed global '%.*s.%.*s' (only numpy scalars, arrays and dtypes may "
                "appear in a dataset pickle; nothing is executed)",
                (int)(mod_len > 200 ? 200 : mod_len), mod, (int)(name_len > 200 ? 200 : name_len),
                name);
}

static bool is_text(const pkl_value *v)
{
    return v->type == PKL_BYTES || v->type == PKL_STR;
}

static bool text_eq(const pkl_value *v, const char *s)
{
    return is_text(v) && v->u.s.len == strlen(s) && memcmp(v->u.s.data, s, v->u.s.len) == 0;
}

/* numpy.dtype('i8', align, copy): only plain numeric types. */
static fivo_status make_dtype(vm *m, const pkl_value *args, pkl_value **out)
{
    if (args->u.seq.len < 1 || !is_text(args->u.seq.items[0]))
        return fail(m, FIVO_ERR_FORMAT, "numpy.dtype expects a type string");
    const pkl_value *code = args->u.seq.items[0];
    const char *s = code->u.s.data;
    char order = '=';
    if (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')
        order = *s++;
    char kind = s[0];
    char *end = NULL;
    long size = kind ? strtol(s + 1, &end, 10) : 0;
    bool ok = (kind == 'i' || kind == 'u' || kind == 'f' || kind == 'b') && end != NULL &&
              *end == '\0' && end != s + 1 &&
              (kind == 'f' ? (size == 4 || size == 8)
                           : (size == 1 || size == 2 || size == 4 || size == 8));
    if (!ok)
        return fail(m, FIVO_ERR_UNSUPPORTED,
                    "numpy dtype '%.40s' is not supported (need bool, int, uint or float)",
                    code->u.s.data);
    pkl_value *v = new_value(m, PKL_DTYPE);
    if (v == NULL)
        return NOMEM(m);
    v->u.dt.kind = kind;
    v->u.dt.size = (int)size;
    v->u.dt.order = order;
    *out = v;
    return FIVO_OK;
}

/* One item of dtype dt at p, as a double (ints also exactly as int64). */
static void decode_item(const pkl_value *dt, const uint8_t *p, int64_t *iv, double *dv)
{
    uint8_t b[8];
    int n = dt->u.dt.size;
    bool big = dt->u.dt.order == '>';
    for (int i = 0; i < n; i++)
        b[i] = big ? p[n - 1 - i] : p[i]; /* now little-endian */
    uint64_t u = le(b, n);
    switch (dt->u.dt.kind) {
    case 'f':
        if (n == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            *dv = f;
        } else {
            memcpy(dv, &u, 8);
        }
        *iv = 0;
        return;
    case 'i':
        if (n < 8 && (u >> (8 * n - 1)) & 1u)
            u |= ~(uint64_t)0 << (8 * n);
        *iv = (int64_t)u;
        *dv = (double)*iv;
        return;
    default: /* 'u', 'b' */
        *iv = (int64_t)u;
        *dv = (double)u;
        return;
    }
}

/* numpy.core.multiarray.scalar(dtype, bytes) */
static fivo_status make_scalar(vm *m, const pkl_value *args, pkl_value **out)
{
    if (args->u.seq.len != 2 || args->u.seq.items[0]->type != PKL_DTYPE ||
        !is_text(args->u.seq.items[1]))
        return fail(m, FIVO_ERR_FORMAT, "numpy scalar expects (dtype, bytes)");
    const pkl_value *dt = args->u.seq.items[0], *raw = args->u.seq.items[1];
    if (raw->u.s.len != (size_t)dt->u.dt.size)
        return fail(m, FIVO_ERR_FORMAT, "numpy scalar has %zu bytes, its dtype needs %d",
                    raw->u.s.len, dt->u.dt.size);
    if (dt->u.dt.kind == 'u' && dt->u.dt.size == 8 && ((const uint8_t *)raw->u.s.data)[
            dt->u.dt.order == '>' ? 0 : 7] & 0x80u)
        return fail(m, FIVO_ERR_FORMAT, "numpy uint64 scalar does not fit in int64");
    int64_t iv;
    double dv;
    decode_item(dt, (const uint8_t *)raw->u.s.data, &iv, &dv);
    pkl_value *v = new_value(m, dt->u.dt.kind == 'f' ? PKL_FLOAT
                                : dt->u.dt.kind == 'b' ? PKL_BOOL : PKL_INT);
    if (v == NULL)
        return NOMEM(m);
    if (v->type == PKL_FLOAT)
        v->u.f = dv;
    else
        v->u.i = iv;
    *out = v;
    return FIVO_OK;
}

/* _codecs.encode(str, 'latin1'): how Python 3 pickles bytes at protocols < 3. */
static fivo_status make_encoded(vm *m, const pkl_value *args, pkl_value **out)
{
    if (args->u.seq.len < 1 || args->u.seq.len > 2 || args->u.seq.items[0]->type != PKL_STR)
        return fail(m, FIVO_ERR_FORMAT, "_codecs.encode expects (str, encoding)");
    const pkl_value *s = args->u.seq.items[0];
    bool latin1 = false;
    if (args->u.seq.len == 2) {
        const pkl_value *e = args->u.seq.items[1];
        latin1 = text_eq(e, "latin1") || text_eq(e, "latin-1") || text_eq(e, "iso-8859-1") ||
                 text_eq(e, "iso8859-1");
        if (!latin1 && !text_eq(e, "utf-8") && !text_eq(e, "utf8"))
            return fail(m, FIVO_ERR_UNSUPPORTED, "_codecs.encode with an unsupported encoding");
    }
    if (!latin1)
        return make_string(m, PKL_BYTES, s->u.s.data, s->u.s.len, out);
    /* Decode our UTF-8 back to code points, each must be < 256. */
    char *o = malloc(s->u.s.len + 1);
    if (o == NULL)
        return NOMEM(m);
    size_t k = 0;
    const uint8_t *p = (const uint8_t *)s->u.s.data;
    for (size_t i = 0; i < s->u.s.len;) {
        if (p[i] < 0x80) {
            o[k++] = (char)p[i++];
        } else if ((p[i] & 0xe0) == 0xc0 && i + 1 < s->u.s.len && p[i] <= 0xc3) {
            o[k++] = (char)(((p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f));
            i += 2;
        } else {
            free(o);
            return fail(m, FIVO_ERR_FORMAT, "latin-1 encode of a character above U+00FF");
        }
    }
    o[k] = '\0';
    pkl_value *v = new_value(m, PKL_BYTES);
    if (v == NULL) {
        free(o);
        return NOMEM(m);
    }
    v->u.s.data = o;
    v->u.s.len = k;
    *out = v;
    return FIVO_OK;
}

/* numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'): an empty
 * array whose contents come with BUILD. */
static fivo_status make_array(vm *m, const pkl_value *args, pkl_value **out)
{
    if (args->u.seq.len != 3 || args->u.seq.items[0]->type != PKL_GLOBAL ||
        args->u.seq.items[0]->u.g != PKL_G_NDARRAY)
        return fail(m, FIVO_ERR_FORMAT, "_reconstruct expects (numpy.ndarray, shape, typecode)");
    pkl_value *v = new_value(m, PKL_ARRAY);
    if (v == NULL)
        return NOMEM(m);
    *out = v;
    return FIVO_OK;
}

static fivo_status build_dtype(vm *m, pkl_value *dt, const pkl_value *state)
{
    /* (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]) */
    if (state->type != PKL_TUPLE || state->u.seq.len < 2 || !is_text(state->u.seq.items[1]))
        return fail(m, FIVO_ERR_FORMAT, "numpy dtype state is not (version, byteorder, ...)");
    for (size_t i = 2; i < 5 && i < state->u.seq.len; i++)
        if (state->u.seq.items[i]->type != PKL_NONE)
            return fail(m, FIVO_ERR_UNSUPPORTED, "structured or sub-array numpy dtypes are not "
                                                 "supported");
    const char *o = state->u.seq.items[1]->u.s.data;
    if (strlen(o) != 1 || strchr("<>|=", o[0]) == NULL)
        return fail(m, FIVO_ERR_FORMAT, "numpy dtype byte order '%.8s' unknown", o);
    dt->u.dt.order = o[0];
    return FIVO_OK;
}

static fivo_status build_array(vm *m, pkl_value *a, const pkl_value *state)
{
    if (a->u.arr.data != NULL)
        return fail(m, FIVO_ERR_FORMAT, "numpy array state set twice");
    if (state->type != PKL_TUPLE || (state->u.seq.len != 5 && state->u.seq.len != 4))
        return fail(m, FIVO_ERR_FORMAT, "numpy array state is not (version, shape, dtype, "
                                        "fortran, data)");
    pkl_value *const *s = state->u.seq.items + (state->u.seq.len == 5 ? 1 : 0);
    const pkl_value *shape = s[0], *dt = s[1], *fortran = s[2], *raw = s[3];
    if (shape->type != PKL_TUPLE || shape->u.seq.len > PKL_MAX_DIMS)
        return fail(m, FIVO_ERR_FORMAT, "numpy array shape is not a tuple of at most %d ints",
                    PKL_MAX_DIMS);
    if (dt->type != PKL_DTYPE)
        return fail(m, FIVO_ERR_FORMAT, "numpy array dtype is a %s", pkl_type_name(dt->type));
    if (!is_text(raw))
        return fail(m, FIVO_ERR_UNSUPPORTED, "numpy array data is a %s (object arrays are not "
                                             "supported)", pkl_type_name(raw->type));
    int64_t n = 1;
    a->u.arr.ndim = (int)shape->u.seq.len;
    for (size_t i = 0; i < shape->u.seq.len; i++) {
        const pkl_value *d = shape->u.seq.items[i];
        if (d->type != PKL_INT || d->u.i < 0 || d->u.i > (int64_t)1 << 40)
            return fail(m, FIVO_ERR_FORMAT, "numpy array shape has a bad dimension");
        a->u.arr.shape[i] = d->u.i;
        n *= d->u.i;
        if (n > (int64_t)1 << 40)
            return fail(m, FIVO_ERR_FORMAT, "numpy array too large");
    }
    if ((fortran->type == PKL_BOOL || fortran->type == PKL_INT) && fortran->u.i != 0 &&
        a->u.arr.ndim > 1)
        return fail(m, FIVO_ERR_UNSUPPORTED, "Fortran-order numpy arrays are not supported");
    if ((uint64_t)raw->u.s.len != (uint64_t)n * (uint64_t)dt->u.dt.size)
        return fail(m, FIVO_ERR_FORMAT, "numpy array data has %zu bytes, shape and dtype need "
                                        "%lld", raw->u.s.len, (long long)(n * dt->u.dt.size));
    a->u.arr.data = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (a->u.arr.data == NULL)
        return NOMEM(m);
    for (int64_t i = 0; i < n; i++) {
        int64_t iv;
        decode_item(dt, (const uint8_t *)raw->u.s.data + i * dt->u.dt.size, &iv,
                    &a->u.arr.data[i]);
    }
    a->u.arr.n = n;
    return FIVO_OK;
}

static fivo_status reduce(vm *m)
{
    pkl_value *args = NULL, *fn = NULL, *res = NULL;
    TRY(pop(m, &args));
    TRY(pop(m, &fn));
    if (fn->type != PKL_GLOBAL)
        return fail(m, FIVO_ERR_FORMAT, "REDUCE on a %s, not a callable", pkl_type_name(fn->type));
    if (args->type != PKL_TUPLE)
        return fail(m, FIVO_ERR_FORMAT, "REDUCE arguments are a %s, not a tuple",
                    pkl_type_name(args->type));
    switch (fn->u.g) {
    case PKL_G_SCALAR: TRY(make_scalar(m, args, &res)); break;
    case PKL_G_RECONSTRUCT: TRY(make_array(m, args, &res)); break;
    case PKL_G_DTYPE: TRY(make_dtype(m, args, &res)); break;
    case PKL_G_ENCODE: TRY(make_encoded(m, args, &res)); break;
    case PKL_G_NDARRAY:
        return fail(m, FIVO_ERR_FORMAT, "numpy.ndarray called directly");
    }
    return push(m, res);
}

static fivo_status build(vm *m)
{
    pkl_value *state = NULL, *obj = NULL;
    TRY(pop(m, &state));
    TRY(top(m, &obj));
    if (obj->type == PKL_DTYPE)
        return build_dtype(m, obj, state);
    if (obj->type == PKL_ARRAY)
        return build_array(m, obj, state);
    return fail(m, FIVO_ERR_FORMAT, "BUILD on a %s", pkl_type_name(obj->type));
}

/* ---- containers ---------------------------------------------------------- */

static fivo_status set_items(vm *m, pkl_value *d, pkl_value **kv, size_t n)
{
    if (d->type != PKL_DICT)
        return fail(m, FIVO_ERR_FORMAT, "SETITEM on a %s", pkl_type_name(d->type));
    if (n % 2 != 0)
        return fail(m, FIVO_ERR_FORMAT, "SETITEMS with an odd number of items");
    /* Appended in order; lookups search from the end, so the last
     * assignment of a key wins as in Python, without a quadratic insert. */
    TRY(seq_reserve(m, d, n));
    for (size_t i = 0; i < n; i++)
        TRY(seq_add(m, d, kv[i]));
    return FIVO_OK;
}

static fivo_status append_items(vm *m, pkl_value *l, pkl_value **items, size_t n)
{
    if (l->type != PKL_LIST)
        return fail(m, FIVO_ERR_FORMAT, "APPEND on a %s", pkl_type_name(l->type));
    TRY(seq_reserve(m, l, n));
    for (size_t i = 0; i < n; i++)
        TRY(seq_add(m, l, items[i]));
    return FIVO_OK;
}

/* ---- the loop ----------------------------------------------------------- */

static fivo_status step(vm *m, bool *stop)
{
    const uint8_t *p = NULL;
    const char *line = NULL;
    size_t n = 0;
    pkl_value *v = NULL, *w = NULL, **items = NULL;
    int64_t iv = 0;
    m->op_pos = m->pos;
    TRY(take(m, 1, &p));
    uint8_t op = p[0];
    switch (op) {
    case 0x80: /* PROTO */
        TRY(take(m, 1, &p));
        if (p[0] > 5)
            return fail(m, FIVO_ERR_UNSUPPORTED, "pickle protocol %u is not supported", p[0]);
        return FIVO_OK;
    case 0x95: /* FRAME: a length hint only */
        return take(m, 8, &p);
    case '.': /* STOP */
        *stop = true;
        return FIVO_OK;
    case '(': /* MARK */
        if (m->nmarks == PKL_MAX_MARKS)
            return fail(m, FIVO_ERR_FORMAT, "nesting deeper than %d MARKs", PKL_MAX_MARKS);
        m->marks[m->nmarks++] = m->sp;
        return FIVO_OK;
    case '0': /* POP */
        if (m->sp > stack_floor(m))
            return pop(m, &v);
        if (m->nmarks > 0) { /* POP of a MARK */
            m->nmarks--;
            return FIVO_OK;
        }
        return fail(m, FIVO_ERR_FORMAT, "stack underflow");
    case '1': /* POP_MARK */
        return pop_mark(m, &items, &n);
    case '2': /* DUP */
        TRY(top(m, &v));
        return push(m, v);
    case 'N':
        if ((v = new_value(m, PKL_NONE)) == NULL)
            return NOMEM(m);
        return push(m, v);
    case 0x88: return push_int(m, PKL_BOOL, 1);
    case 0x89: return push_int(m, PKL_BOOL, 0);
    case 'I':
        TRY(take_line(m, &line, &n));
        if (n == 2 && line[0] == '0' && (line[1] == '0' || line[1] == '1'))
            return push_int(m, PKL_BOOL, line[1] == '1');
        TRY(parse_int_text(m, line, n, &iv));
        return push_int(m, PKL_INT, iv);
    case 'L':
        TRY(take_line(m, &line, &n));
        TRY(parse_int_text(m, line, n, &iv));
        return push_int(m, PKL_INT, iv);
    case 'J':
        TRY(take(m, 4, &p));
        return push_int(m, PKL_INT, (int32_t)(uint32_t)le(p, 4));
    case 'K':
        TRY(take(m, 1, &p));
        return push_int(m, PKL_INT, p[0]);
    case 'M':
        TRY(take(m, 2, &p));
        return push_int(m, PKL_INT, (int64_t)le(p, 2));
    case 0x8a: /* LONG1 */
        TRY(take(m, 1, &p));
        return push_long_bytes(m, p[0]);
    case 0x8b: /* LONG4 */
        TRY(take(m, 4, &p));
        if ((int32_t)(uint32_t)le(p, 4) < 0)
            return fail(m, FIVO_ERR_FORMAT, "negative LONG4 length");
        return push_long_bytes(m, (size_t)le(p, 4));
    case 'F': {
        char tmp[64];
        TRY(take_line(m, &line, &n));
        if (n == 0 || n >= sizeof tmp)
            return fail(m, FIVO_ERR_FORMAT, "bad float literal");
        memcpy(tmp, line, n);
        tmp[n] = '\0';
        char *end;
        double d = strtod(tmp, &end);
        if (*end != '\0')
            return fail(m, FIVO_ERR_FORMAT, "bad float literal '%s'", tmp);
        if ((v = new_value(m, PKL_FLOAT)) == NULL)
            return NOMEM(m);
        v->u.f = d;
        return push(m, v);
    }
    case 'G': { /* BINFLOAT: big-endian double */
        TRY(take(m, 8, &p));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | p[i];
        if ((v = new_value(m, PKL_FLOAT)) == NULL)
            return NOMEM(m);
        memcpy(&v->u.f, &u, 8);
        return push(m, v);
    }
    case 'S':
        TRY(take_line(m, &line, &n));
        return push_quoted(m, line, n);
    case 'V':
        TRY(take_line(m, &line, &n));
        return push_raw_unicode(m, line, n);
    case 'T': case 'U': case 'B': case 'C': case 0x8e: /* byte strings */
    case 'X': case 0x8c: case 0x8d: {                 /* unicode (UTF-8) */
        int width = (op == 'U' || op == 'C' || op == 0x8c) ? 1 : (op == 0x8e || op == 0x8d) ? 8 : 4;
        TRY(take(m, (size_t)width, &p));
        uint64_t len = le(p, width);
        if (op == 'T' && (int32_t)(uint32_t)len < 0)
            return fail(m, FIVO_ERR_FORMAT, "negative BINSTRING length");
        if (len > m->len - m->pos)
            return fail(m, FIVO_ERR_FORMAT, "truncated: string of %llu bytes, file ends after %zu",
                        (unsigned long long)len, m->len - m->pos);
        TRY(take(m, (size_t)len, &p));
        bool uni = op == 'X' || op == 0x8c || op == 0x8d;
        TRY(make_string(m, uni ? PKL_STR : PKL_BYTES, (const char *)p, (size_t)len, &v));
        return push(m, v);
    }
    case ')':
        TRY(make_seq(m, PKL_TUPLE, NULL, 0, &v));
        return push(m, v);
    case 't':
        TRY(pop_mark(m, &items, &n));
        TRY(make_seq(m, PKL_TUPLE, items, n, &v));
        return push(m, v);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t k = (size_t)(op - 0x84);
        if (m->sp < stack_floor(m) + k)
            return fail(m, FIVO_ERR_FORMAT, "stack underflow");
        m->sp -= k;
        TRY(make_seq(m, PKL_TUPLE, m->stack + m->sp, k, &v));
        return push(m, v);
    }
    case ']':
        TRY(make_seq(m, PKL_LIST, NULL, 0, &v));
        return push(m, v);
    case 'l':
        TRY(pop_mark(m, &items, &n));
        TRY(make_seq(m, PKL_LIST, items, n, &v));
        return push(m, v);
    case '}':
        TRY(make_seq(m, PKL_DICT, NULL, 0, &v));
        return push(m, v);
    case 'd':
        TRY(pop_mark(m, &items, &n));
        TRY(make_seq(m, PKL_DICT, NULL, 0, &v));
        TRY(set_items(m, v, items, n));
        return push(m, v);
    case 'a':
        TRY(pop(m, &w));
        TRY(top(m, &v));
        return append_items(m, v, &w, 1);
    case 'e':
        TRY(pop_mark(m, &items, &n));
        TRY(top(m, &v));
        return append_items(m, v, items, n);
    case 's': {
        pkl_value *kv[2];
        TRY(pop(m, &kv[1]));
        TRY(pop(m, &kv[0]));
        TRY(top(m, &v));
        return set_items(m, v, kv, 2);
    }
    case 'u':
        TRY(pop_mark(m, &items, &n));
        TRY(top(m, &v));
        return set_items(m, v, items, n);
    case 'c': {
        const char *mod = NULL;
        size_t mod_len = 0;
        TRY(take_line(m, &mod, &mod_len));
        TRY(take_line(m, &line, &n));
        return resolve_global(m, mod, mod_len, line, n);
    }
    case 0x93: /* STACK_GLOBAL */
        TRY(pop(m, &w));
        TRY(pop(m, &v));
        if (!is_text(v) || !is_text(w))
            return fail(m, FIVO_ERR_FORMAT, "STACK_GLOBAL needs two strings");
        return resolve_global(m, v->u.s.data, v->u.s.len, w->u.s.data, w->u.s.len);
    case 'R': return reduce(m);
    case 'b': return build(m);
    case 'p':
        TRY(take_line(m, &line, &n));
        TRY(parse_int_text(m, line, n, &iv));
        if (iv < 0)
            return fail(m, FIVO_ERR_FORMAT, "negative memo index");
        return memo_put(m, (uint64_t)iv);
    case 'q':
        TRY(take(m, 1, &p));
        return memo_put(m, p[0]);
    case 'r':
        TRY(take(m, 4, &p));
        return memo_put(m, le(p, 4));
    case 0x94: /* MEMOIZE: index = number of entries so far */
        return memo_put(m, m->memo_count);
    case 'g':
        TRY(take_line(m, &line, &n));
        TRY(parse_int_text(m, line, n, &iv));
        if (iv < 0)
            return fail(m, FIVO_ERR_FORMAT, "negative memo index");
        return memo_get(m, (uint64_t)iv);
    case 'h':
        TRY(take(m, 1, &p));
        return memo_get(m, p[0]);
    case 'j':
        TRY(take(m, 4, &p));
        return memo_get(m, le(p, 4));
    default:
        return fail(m, FIVO_ERR_FORMAT, "unknown or unsupported pickle opcode 0x%02x ('%c')", op,
                    op >= 0x20 && op < 0x7f ? op : '?');
    }
}

fivo_status pkl_load(const uint8_t *buf, size_t len, const char *name, pkl_doc **doc,
                     const pkl_value **root, fivo_error *err)
{
    *doc = NULL;
    *root = NULL;
    vm m;
    memset(&m, 0, sizeof m);
    m.buf = buf;
    m.len = len;
    m.name = name;
    m.err = err;
    m.doc = calloc(1, sizeof *m.doc);
    if (m.doc == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", name);
    fivo_status st = FIVO_OK;
    bool stop = false;
    while (!stop) {
        if (m.pos == m.len) {
            m.op_pos = m.pos;
            st = fivo_error_set(err, FIVO_ERR_FORMAT,
                                "%s: pickle offset %zu: truncated: file ends before the STOP "
                                "opcode", name, m.pos);
            break;
        }
        st = step(&m, &stop);
        if (st != FIVO_OK)
            break;
    }
    pkl_value *result = NULL;
    if (st == FIVO_OK) {
        if (m.nmarks != 0 || m.sp != 1)
            st = fail(&m, FIVO_ERR_FORMAT, "STOP with %zu values and %d MARKs on the stack "
                                           "(expected exactly one value)", m.sp, m.nmarks);
        else
            result = m.stack[0];
    }
    free(m.stack);
    free(m.memo);
    if (st != FIVO_OK) {
        pkl_free(m.doc);
        return st;
    }
    *doc = m.doc;
    *root = result;
    return FIVO_OK;
}

const pkl_value *pkl_dict_get(const pkl_value *dict, const char *key)
{
    if (dict == NULL || dict->type != PKL_DICT)
        return NULL;
    for (size_t j = dict->u.seq.len / 2; j-- > 0;)
        if (text_eq(dict->u.seq.items[2 * j], key))
            return dict->u.seq.items[2 * j + 1];
    return NULL;
}
