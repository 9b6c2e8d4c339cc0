/* Plugin options: the rows a descriptor declares, checked once when the
 * registry loads the plugin (fivo_option_problem) and applied to the
 * plugin's config section when the host has chosen it
 * (fivo_plugin_apply_options). The one place that reads, defaults and
 * checks a plugin's keys. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <fivo/options.h>
#include <fivo/internal/registry.h>
#include <fivo/internal/closest_name.h>

static char *dup_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *g = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    size_t n = strlen(g) + 1;
    char *s = malloc(n); /* callers free() */
    if (s != NULL)
        memcpy(s, g, n);
    g_free(g);
    return s;
}

static const char *type_word(fivo_option_type t)
{
    switch (t) {
    case FIVO_OPTION_INT: return "an integer";
    case FIVO_OPTION_DOUBLE: return "a number";
    case FIVO_OPTION_BOOL: return "true or false";
    case FIVO_OPTION_STRING: return "a string";
    }
    return "a value";
}

/* Does `text` parse as type t? Uses the config's own parsers, so a default
 * is held to the rules a user's value is. */
static bool parses_as(fivo_option_type t, const char *text)
{
    fivo_config *c = fivo_config_new();
    if (c == NULL)
        return false;
    fivo_config_set(c, "x", "v", text);
    bool ok = true;
    long l;
    double d;
    bool b;
    switch (t) {
    case FIVO_OPTION_INT: ok = fivo_config_get_int(c, "x", "v", 0, &l, NULL) == FIVO_OK; break;
    case FIVO_OPTION_DOUBLE: ok = fivo_config_get_double(c, "x", "v", 0, &d, NULL) == FIVO_OK; break;
    case FIVO_OPTION_BOOL: ok = fivo_config_get_bool(c, "x", "v", false, &b, NULL) == FIVO_OK; break;
    case FIVO_OPTION_STRING: break;
    }
    fivo_config_free(c);
    return ok;
}

static bool in_choices(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return false;
}

/* A number written in full (no trailing text). */
static bool number_of(const char *text, double *out)
{
    if (text == NULL || text[0] == '\0')
        return false;
    char *end = NULL;
    *out = g_ascii_strtod(text, &end);
    return end != NULL && end != text && *end == '\0';
}

/* One side of a row's range: its text without the exclusive mark. */
static bool side_of(const char *text, char mark, double *v, bool *open)
{
    *open = text[0] == mark;
    return number_of(*open ? text + 1 : text, v);
}

char *fivo_option_range_text(const fivo_option *o)
{
    if (o->min == NULL && o->max == NULL)
        return NULL;
    bool lo_open = o->min != NULL && o->min[0] == '>';
    bool hi_open = o->max != NULL && o->max[0] == '<';
    const char *lo = o->min != NULL ? o->min + lo_open : NULL;
    const char *hi = o->max != NULL ? o->max + hi_open : NULL;
    if (lo != NULL && hi != NULL)
        return dup_printf("%s%s, %s%s", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    if (lo != NULL)
        return dup_printf("%s %s", lo_open ? ">" : ">=", lo);
    return dup_printf("%s %s", hi_open ? "<" : "<=", hi);
}

/* NULL when `value` lies in the row's range (or it has none). */
static char *out_of_range(const fivo_option *o, const char *value)
{
    double v, b;
    bool open;
    if ((o->min == NULL && o->max == NULL) || !number_of(value, &v))
        return NULL;
    bool ok = isfinite(v); /* a ranged value is a finite number */
    if (ok && o->min != NULL && side_of(o->min, '>', &b, &open))
        ok = open ? v > b : v >= b;
    if (ok && o->max != NULL && side_of(o->max, '<', &b, &open))
        ok = open ? v < b : v <= b;
    if (ok)
        return NULL;
    char *range = fivo_option_range_text(o);
    char *why = dup_printf("a value %s%s", o->min != NULL && o->max != NULL ? "in " : "", range);
    free(range);
    return why;
}

char *fivo_option_value_problem(const fivo_option *o, const char *value)
{
    if (value == NULL || !parses_as(o->type, value))
        return dup_printf("%s", type_word(o->type));
    if (o->choices != NULL && !in_choices(o->choices, value))
        return dup_printf("one of %s", o->choices);
    return out_of_range(o, value);
}

char *fivo_option_problem(const fivo_option *o)
{
    if (o->key == NULL || o->key[0] == '\0')
        return dup_printf("no key");
    for (const char *p = o->key; *p; p++)
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '_')
            return dup_printf("key is not snake_case");
    if (o->type < FIVO_OPTION_INT || o->type > FIVO_OPTION_STRING)
        return dup_printf("unknown type %d", (int)o->type);
    if (o->choices != NULL) {
        if (o->choices[0] == '\0' || o->choices[0] == '|' || strstr(o->choices, "||") != NULL ||
            o->choices[strlen(o->choices) - 1] == '|')
            return dup_printf("choices '%s' are not of the form a|b|c", o->choices);
        char **each = g_strsplit(o->choices, "|", -1);
        for (int i = 0; each[i] != NULL; i++)
            if (!parses_as(o->type, each[i])) {
                char *why = dup_printf("choice '%s' is not %s", each[i], type_word(o->type));
                g_strfreev(each);
                return why;
            }
        g_strfreev(each);
    }
    if (o->min != NULL || o->max != NULL) {
        double lo = 0, hi = 0;
        bool open;
        if (o->type != FIVO_OPTION_INT && o->type != FIVO_OPTION_DOUBLE)
            return dup_printf("a range (min/max) on %s option", type_word(o->type));
        if (o->min != NULL && !side_of(o->min, '>', &lo, &open))
            return dup_printf("min '%s' is not a number (a leading '>': exclusive)", o->min);
        if (o->max != NULL && !side_of(o->max, '<', &hi, &open))
            return dup_printf("max '%s' is not a number (a leading '<': exclusive)", o->max);
        if (o->min != NULL && o->max != NULL && lo > hi)
            return dup_printf("min '%s' is above max '%s'", o->min, o->max);
    }
    if (o->default_value != NULL) {
        if (!parses_as(o->type, o->default_value))
            return dup_printf("default '%s' is not %s", o->default_value, type_word(o->type));
        if (o->choices != NULL && !in_choices(o->choices, o->default_value))
            return dup_printf("default '%s' is not one of %s", o->default_value, o->choices);
        char *range = out_of_range(o, o->default_value);
        if (range != NULL) {
            char *why = dup_printf("default '%s' is not %s", o->default_value, range);
            free(range);
            return why;
        }
    }
    return NULL;
}

const fivo_option *fivo_plugin_option(const fivo_plugin_info *info, const char *key)
{
    for (size_t i = 0; i < info->num_options; i++)
        if (strcmp(info->options[i].key, key) == 0)
            return &info->options[i];
    return NULL;
}

static bool is_host_key(const char *const *host_keys, const char *key)
{
    for (size_t i = 0; host_keys != NULL && host_keys[i] != NULL; i++)
        if (strcmp(host_keys[i], key) == 0)
            return true;
    return false;
}

/* "a, b, c" of the plugin's keys, or "none". */
static char *key_list(const fivo_plugin_info *info)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < info->num_options; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", info->options[i].key);
    if (s->len == 0)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

static fivo_status unknown_key(const fivo_plugin_info *info, const fivo_config *cfg,
                               const char *section, const char *key,
                               const char *const *host_keys, fivo_error *err)
{
    GPtrArray *names = g_ptr_array_new();
    for (size_t i = 0; info->num_options > i; i++)
        g_ptr_array_add(names, (gpointer)info->options[i].key);
    for (size_t i = 0; host_keys != NULL && host_keys[i] != NULL; i++)
        g_ptr_array_add(names, (gpointer)host_keys[i]);
    const char *best = fivo_closest_name(key, (const char *const *)names->pdata, names->len);
    char *keys = key_list(info);
    const char *where = fivo_config_origin(cfg, section, key);
    fivo_status st = fivo_error_set(
        err, FIVO_ERR_INVALID,
        "%s: unknown key '%s' in [%s] for %s plugin '%s'%s%s%s (its keys: %s)",
        where != NULL ? where : "config", key, section, fivo_plugin_kind_name(info->kind),
        info->name, best != NULL ? "; did you mean '" : "", best != NULL ? best : "",
        best != NULL ? "'?" : "", keys);
    g_free(keys);
    g_ptr_array_free(names, TRUE);
    return st;
}

static fivo_status bad_value(const fivo_plugin_info *info, const fivo_config *cfg,
                             const char *section, const fivo_option *o, const char *value,
                             const char *expected, fivo_error *err)
{
    const char *where = fivo_config_origin(cfg, section, o->key);
    return fivo_error_set(err, FIVO_ERR_INVALID, "%s: [%s] %s = '%s': %s plugin '%s' expects %s",
                          where != NULL ? where : "config", section, o->key, value,
                          fivo_plugin_kind_name(info->kind), info->name, expected);
}

fivo_status fivo_plugin_apply_options(const fivo_plugin_info *info, fivo_config *cfg,
                                      const char *section, const char *const *host_keys,
                                      fivo_error *err)
{
    const char *const *keys = fivo_config_keys(cfg, section);
    /* Copy the names first: setting defaults below changes cfg's arrays. */
    char **names = g_strdupv((char **)keys);
    fivo_status st = FIVO_OK;
    for (int k = 0; names[k] != NULL && st == FIVO_OK; k++) {
        if (is_host_key(host_keys, names[k]))
            continue;
        const fivo_option *o = fivo_plugin_option(info, names[k]);
        if (o == NULL) {
            st = unknown_key(info, cfg, section, names[k], host_keys, err);
            break;
        }
        const char *v = NULL;
        fivo_config_get_string(cfg, section, o->key, NULL, &v, NULL);
        char *why = fivo_option_value_problem(o, v);
        if (why != NULL)
            st = bad_value(info, cfg, section, o, v, why, err);
        free(why);
    }
    g_strfreev(names);
    if (st != FIVO_OK)
        return st;
    for (size_t i = 0; i < info->num_options; i++) {
        const fivo_option *o = &info->options[i];
        if (o->default_value != NULL && !fivo_config_has(cfg, section, o->key))
            fivo_config_set_from(cfg, section, o->key, o->default_value,
                                 FIVO_CONFIG_ORIGIN_DEFAULT);
    }
    return FIVO_OK;
}

/* ---- reading a plugin's own options (fivo/options.h) -------------------- */

static const fivo_option *find_row(const fivo_option *rows, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].key != NULL && strcmp(rows[i].key, key) == 0)
            return &rows[i];
    return NULL;
}

/* The config to read `key` from: cfg when it is set there, else a one-key
 * config holding the row's default (*tmp, freed by the caller), else NULL. */
static fivo_status source_of(const fivo_config *cfg, const char *section, const fivo_option *rows,
                             size_t n, const char *key, fivo_option_type type,
                             const fivo_config **src, fivo_config **tmp, fivo_error *err)
{
    *src = NULL;
    *tmp = NULL;
    const fivo_option *row = find_row(rows, n, key);
    if (row == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[%s] %s: read by a plugin that does not declare it", section, key);
    if (row->type != type)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[%s] %s: declared as %s, read as %s",
                              section, key, type_word(row->type), type_word(type));
    if (cfg != NULL && fivo_config_has(cfg, section, key)) {
        *src = cfg;
    } else if (row->default_value != NULL) {
        *tmp = fivo_config_new();
        if (*tmp == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "[%s] %s: out of memory", section, key);
        fivo_config_set_from(*tmp, section, key, row->default_value, "the plugin's default");
        *src = *tmp;
    }
    if (*src != NULL) {
        const char *v = NULL;
        fivo_config_get_string(*src, section, key, NULL, &v, NULL);
        char *why = fivo_option_value_problem(row, v);
        if (why != NULL) {
            const char *w = fivo_config_origin(*src, section, key);
            fivo_status st = fivo_error_set(err, FIVO_ERR_INVALID,
                                            "%s: [%s] %s = '%s': expected %s",
                                            w != NULL ? w : "config", section, key, v, why);
            free(why);
            return st;
        }
    }
    return FIVO_OK;
}

bool fivo_option_is_set(const fivo_config *cfg, const char *section, const char *key)
{
    if (cfg == NULL || !fivo_config_has(cfg, section, key))
        return false;
    const char *o = fivo_config_origin(cfg, section, key);
    return o == NULL || (!g_str_has_prefix(o, FIVO_CONFIG_ORIGIN_DEFAULT) &&
                         !g_str_has_prefix(o, FIVO_CONFIG_ORIGIN_PREFERRED));
}

#define OPTION_READER(fn, ctype, type, getter)                                                 \
    fivo_status fn(const fivo_config *cfg, const char *section, const fivo_option *rows,       \
                   size_t n, const char *key, ctype *out, fivo_error *err)                     \
    {                                                                                          \
        const fivo_config *src;                                                                \
        fivo_config *tmp;                                                                      \
        fivo_status st = source_of(cfg, section, rows, n, key, type, &src, &tmp, err);         \
        if (st == FIVO_OK && src != NULL)                                                      \
            st = getter(src, section, key, *out, out, err);                                    \
        fivo_config_free(tmp);                                                                 \
        return st;                                                                             \
    }

OPTION_READER(fivo_option_int, long, FIVO_OPTION_INT, fivo_config_get_int)
OPTION_READER(fivo_option_double, double, FIVO_OPTION_DOUBLE, fivo_config_get_double)
OPTION_READER(fivo_option_bool, bool, FIVO_OPTION_BOOL, fivo_config_get_bool)

fivo_status fivo_option_string(const fivo_config *cfg, const char *section,
                               const fivo_option *rows, size_t n, const char *key,
                               const char **out, fivo_error *err)
{
    const fivo_config *src;
    fivo_config *tmp;
    fivo_status st = source_of(cfg, section, rows, n, key, FIVO_OPTION_STRING, &src, &tmp, err);
    fivo_config_free(tmp);
    if (st != FIVO_OK || src == NULL)
        return st;
    if (src == cfg)
        return fivo_config_get_string(cfg, section, key, *out, out, err);
    *out = find_row(rows, n, key)->default_value; /* static storage, unlike tmp's copy */
    return FIVO_OK;
}
