/* The merged configuration (see fivo/config.h): key files parsed by GKeyFile,
 * stored here as ordered sections of (key, value, origin) so that every
 * message can say where a value came from ("run.ini:12", "--batch_size"). */
#include <fivo/config.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

typedef struct cfg_entry {
    char *key;
    char *value;
    char *origin; /* may be NULL */
} cfg_entry;

typedef struct cfg_section {
    char *name;
    GPtrArray *entries;     /* cfg_entry* */
    const char **key_cache; /* NULL-terminated view, rebuilt on demand */
} cfg_section;

struct fivo_config {
    GPtrArray *sections;        /* cfg_section* */
    const char **section_cache; /* NULL-terminated view, rebuilt on demand */
    GPtrArray *graveyard;       /* replaced values: callers may still hold them */
};

static void entry_free(gpointer p)
{
    cfg_entry *e = p;
    g_free(e->key);
    g_free(e->value);
    g_free(e->origin);
    g_free(e);
}

static void section_free(gpointer p)
{
    cfg_section *s = p;
    g_free(s->name);
    g_ptr_array_free(s->entries, TRUE);
    g_free(s->key_cache);
    g_free(s);
}

fivo_config *fivo_config_new(void)
{
    fivo_config *cfg = g_new0(fivo_config, 1);
    cfg->sections = g_ptr_array_new_with_free_func(section_free);
    cfg->graveyard = g_ptr_array_new_with_free_func(g_free);
    return cfg;
}

void fivo_config_free(fivo_config *cfg)
{
    if (cfg == NULL)
        return;
    g_ptr_array_free(cfg->sections, TRUE);
    g_ptr_array_free(cfg->graveyard, TRUE);
    g_free(cfg->section_cache);
    g_free(cfg);
}

static cfg_section *find_section(const fivo_config *cfg, const char *name)
{
    for (guint i = 0; i < cfg->sections->len; i++) {
        cfg_section *s = g_ptr_array_index(cfg->sections, i);
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

static cfg_entry *find_entry(const fivo_config *cfg, const char *section, const char *key)
{
    if (cfg == NULL || section == NULL || key == NULL)
        return NULL;
    cfg_section *s = find_section(cfg, section);
    if (s == NULL)
        return NULL;
    for (guint i = 0; i < s->entries->len; i++) {
        cfg_entry *e = g_ptr_array_index(s->entries, i);
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

fivo_status fivo_config_set_from(fivo_config *cfg, const char *section, const char *key,
                                 const char *value, const char *origin)
{
    if (cfg == NULL || section == NULL || key == NULL || value == NULL)
        return FIVO_ERR_INVALID;
    cfg_section *s = find_section(cfg, section);
    if (s == NULL) {
        s = g_new0(cfg_section, 1);
        s->name = g_strdup(section);
        s->entries = g_ptr_array_new_with_free_func(entry_free);
        g_ptr_array_add(cfg->sections, s);
        g_clear_pointer(&cfg->section_cache, g_free);
    }
    cfg_entry *e = find_entry(cfg, section, key);
    if (e == NULL) {
        e = g_new0(cfg_entry, 1);
        e->key = g_strdup(key);
        g_ptr_array_add(s->entries, e);
        g_clear_pointer(&s->key_cache, g_free);
    } else {
        /* Someone may hold the old value (getters hand out pointers). */
        g_ptr_array_add(cfg->graveyard, e->value);
        g_free(e->origin);
    }
    e->value = g_strdup(value);
    e->origin = g_strdup(origin);
    return FIVO_OK;
}

fivo_status fivo_config_set(fivo_config *cfg, const char *section, const char *key,
                            const char *value)
{
    return fivo_config_set_from(cfg, section, key, value, NULL);
}

bool fivo_config_has(const fivo_config *cfg, const char *section, const char *key)
{
    return find_entry(cfg, section, key) != NULL;
}

const char *fivo_config_origin(const fivo_config *cfg, const char *section, const char *key)
{
    cfg_entry *e = find_entry(cfg, section, key);
    return e != NULL ? e->origin : NULL;
}

/* ---- Key-file parsing ---------------------------------------------------- */

/* GKeyFile's parse errors quote the bad line but not its number, and it
 * does not say where a key was. This scan mirrors its syntax closely enough
 * to (a) name the first bad line and (b) know each key's line. */
typedef struct line_scan {
    GHashTable *key_lines; /* "section\x1fkey" -> line number (last wins) */
    int bad_line;          /* 0 when every line looks fine */
    const char *bad_why;
    char bad_key[160];     /* "[section] key: " when the problem is in a value */
} line_scan;

/* Why a value's escapes are bad, or NULL. GLib decodes only \s \n \t \r
 * and \\ in a string; anything else it reports through a GError that it
 * may set twice for one value (a warning, "set over the top"), so such
 * values are refused here, naming the line, before GLib decodes them. */
static const char *bad_escape(const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p != '\\')
            continue;
        p++;
        if (*p == '\0')
            return "escape character (\\) at the end of the value";
        if (strchr("sntr\\", *p) == NULL)
            return "invalid escape sequence in the value (known: \\s \\n \\t \\r \\\\)";
    }
    return NULL;
}

static void scan_lines(const char *text, line_scan *ls)
{
    ls->key_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ls->bad_line = 0;
    ls->bad_why = NULL;
    ls->bad_key[0] = '\0';
    char **lines = g_strsplit(text, "\n", -1);
    char *group = NULL;
    for (int i = 0; lines[i] != NULL; i++) {
        int lineno = i + 1;
        char *line = lines[i];
        if (!g_utf8_validate(line, -1, NULL)) {
            if (!ls->bad_line) {
                ls->bad_line = lineno;
                ls->bad_why = "not valid UTF-8";
            }
            continue;
        }
        g_strstrip(line);
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (line[0] == '[') {
            size_t n = strlen(line);
            if (n < 3 || line[n - 1] != ']') {
                if (!ls->bad_line) {
                    ls->bad_line = lineno;
                    ls->bad_why = "malformed [section] header";
                }
                continue;
            }
            g_free(group);
            group = g_strndup(line + 1, n - 2);
            continue;
        }
        char *eq = strchr(line, '=');
        if (eq == NULL || eq == line) {
            if (!ls->bad_line) {
                ls->bad_line = lineno;
                ls->bad_why = eq == NULL ? "expected 'key = value', '[section]' or '# comment'"
                                         : "empty key before '='";
            }
            continue;
        }
        if (group == NULL) {
            if (!ls->bad_line) {
                ls->bad_line = lineno;
                ls->bad_why = "key outside any [section]";
            }
            continue;
        }
        char *key = g_strndup(line, (gsize)(eq - line));
        g_strstrip(key);
        const char *why = bad_escape(eq + 1);
        if (why != NULL && !ls->bad_line) {
            ls->bad_line = lineno;
            ls->bad_why = why;
            snprintf(ls->bad_key, sizeof ls->bad_key, "[%s] %s: ", group, key);
        }
        g_hash_table_insert(ls->key_lines, g_strdup_printf("%s\x1f%s", group, key),
                            GINT_TO_POINTER(lineno));
        g_free(key);
    }
    g_free(group);
    g_strfreev(lines);
}

fivo_status fivo_config_load_data(fivo_config *cfg, const char *text, const char *origin,
                                  bool keep_existing, fivo_error *err)
{
    if (cfg == NULL || text == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "config: no text to load");
    if (origin == NULL)
        origin = "<config>";

    line_scan ls;
    scan_lines(text, &ls);
    GKeyFile *kf = g_key_file_new();
    GError *gerr = NULL;
    fivo_status st = FIVO_OK;
    if (!g_key_file_load_from_data(kf, text, strlen(text), G_KEY_FILE_NONE, &gerr)) {
        if (ls.bad_line)
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s:%d: %s%s (%s)", origin, ls.bad_line,
                                ls.bad_key, ls.bad_why, gerr->message);
        else
            st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: %s", origin, gerr->message);
        g_clear_error(&gerr);
        goto out;
    }
    if (ls.bad_line) { /* GLib accepted what we think is wrong: say so anyway */
        st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s:%d: %s%s", origin, ls.bad_line, ls.bad_key,
                            ls.bad_why);
        goto out;
    }

    /* Parse everything first, then apply: a bad value leaves cfg untouched. */
    GPtrArray *pending = g_ptr_array_new_with_free_func(g_free); /* triples */
    gsize ngroups = 0;
    char **groups = g_key_file_get_groups(kf, &ngroups);
    for (gsize g = 0; g < ngroups && st == FIVO_OK; g++) {
        gsize nkeys = 0;
        char **keys = g_key_file_get_keys(kf, groups[g], &nkeys, NULL);
        for (gsize k = 0; keys != NULL && k < nkeys; k++) {
            char *lookup = g_strdup_printf("%s\x1f%s", groups[g], keys[k]);
            int lineno = GPOINTER_TO_INT(g_hash_table_lookup(ls.key_lines, lookup));
            g_free(lookup);
            char *where = lineno > 0 ? g_strdup_printf("%s:%d", origin, lineno)
                                     : g_strdup(origin);
            char *value = g_key_file_get_string(kf, groups[g], keys[k], &gerr);
            /* GLib returns a string AND sets gerr for an invalid escape
             * (e.g. "\q"): either one alone means the value is bad. */
            if (value == NULL || gerr != NULL) {
                st = fivo_error_set(err, FIVO_ERR_FORMAT, "%s: [%s] %s: %s", where, groups[g],
                                    keys[k], gerr ? gerr->message : "unreadable value");
                g_clear_error(&gerr);
                g_free(value);
                g_free(where);
                break;
            }
            g_ptr_array_add(pending, g_strdup(groups[g]));
            g_ptr_array_add(pending, g_strdup(keys[k]));
            g_ptr_array_add(pending, value);
            g_ptr_array_add(pending, where);
        }
        g_strfreev(keys);
    }
    if (st == FIVO_OK) {
        /* Every [section] exists, even an empty one (the host validates
         * section names), in file order. */
        for (gsize g = 0; g < ngroups; g++)
            if (find_section(cfg, groups[g]) == NULL) {
                cfg_section *s = g_new0(cfg_section, 1);
                s->name = g_strdup(groups[g]);
                s->entries = g_ptr_array_new_with_free_func(entry_free);
                g_ptr_array_add(cfg->sections, s);
                g_clear_pointer(&cfg->section_cache, g_free);
            }
        for (guint i = 0; i + 3 < pending->len; i += 4) {
            const char *sec = g_ptr_array_index(pending, i);
            const char *key = g_ptr_array_index(pending, i + 1);
            if (keep_existing && fivo_config_has(cfg, sec, key))
                continue;
            fivo_config_set_from(cfg, sec, key, g_ptr_array_index(pending, i + 2),
                                 g_ptr_array_index(pending, i + 3));
        }
    }
    g_ptr_array_free(pending, TRUE);
    g_strfreev(groups);
out:
    g_key_file_free(kf);
    g_hash_table_destroy(ls.key_lines);
    return st;
}

fivo_status fivo_config_load_file(fivo_config *cfg, const char *path, bool keep_existing,
                                  fivo_error *err)
{
    if (path == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "config: no file name");
    char *text = NULL;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        fivo_status st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot read config file: %s",
                                        path, gerr->message);
        g_clear_error(&gerr);
        return st;
    }
    fivo_status st = fivo_config_load_data(cfg, text, path, keep_existing, err);
    g_free(text);
    return st;
}

/* ---- Typed getters ------------------------------------------------------- */

static const char *where_of(const cfg_entry *e)
{
    return e->origin != NULL ? e->origin : "config";
}

fivo_status fivo_config_get_string(const fivo_config *cfg, const char *section, const char *key,
                                   const char *def, const char **out, fivo_error *err)
{
    (void)err;
    cfg_entry *e = find_entry(cfg, section, key);
    if (out != NULL)
        *out = e != NULL ? e->value : def;
    return e != NULL ? FIVO_OK : FIVO_ERR_NOT_FOUND;
}

/* Parsers for get_typed: true and *out (a long, double or bool) set when the
 * whole text, trimmed, is a value of that type. */
static bool parse_long(const char *s, void *out)
{
    while (g_ascii_isspace(*s))
        s++;
    if (*s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long long v = g_ascii_strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    while (g_ascii_isspace(*end))
        end++;
    if (*end != '\0' || v < LONG_MIN || v > LONG_MAX)
        return false;
    *(long *)out = (long)v;
    return true;
}

static bool parse_double(const char *s, void *out)
{
    while (g_ascii_isspace(*s))
        s++;
    if (*s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    double v = g_ascii_strtod(s, &end);
    if (end == s || errno == ERANGE)
        return false;
    while (g_ascii_isspace(*end))
        end++;
    if (*end != '\0' || isnan(v))
        return false;
    *(double *)out = v;
    return true;
}

static bool parse_bool(const char *s, void *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *const no[] = {"false", "0", "no", "off", "f", "n"};
    char *t = g_strstrip(g_strdup(s));
    bool ok = false;
    for (size_t i = 0; i < G_N_ELEMENTS(yes) && !ok; i++) {
        if (g_ascii_strcasecmp(t, yes[i]) == 0) {
            *(bool *)out = true;
            ok = true;
        } else if (g_ascii_strcasecmp(t, no[i]) == 0) {
            *(bool *)out = false;
            ok = true;
        }
    }
    g_free(t);
    return ok;
}

/* The typed getters' shared part: FIVO_ERR_NOT_FOUND when section.key is
 * absent, FIVO_OK with *value parsed, or an error naming where the key was
 * set and what was `expected`. */
static fivo_status get_typed(const fivo_config *cfg, const char *section, const char *key,
                             bool (*parse)(const char *, void *), void *value,
                             const char *expected, fivo_error *err)
{
    cfg_entry *e = find_entry(cfg, section, key);
    if (e == NULL)
        return FIVO_ERR_NOT_FOUND;
    if (!parse(e->value, value))
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: [%s] %s = '%s': expected %s",
                              where_of(e), section, key, e->value, expected);
    return FIVO_OK;
}

fivo_status fivo_config_get_int(const fivo_config *cfg, const char *section, const char *key,
                                long def, long *out, fivo_error *err)
{
    long v = def;
    fivo_status st = get_typed(cfg, section, key, parse_long, &v, "an integer", err);
    if (out != NULL)
        *out = st == FIVO_OK ? v : def;
    return st;
}

fivo_status fivo_config_get_double(const fivo_config *cfg, const char *section, const char *key,
                                   double def, double *out, fivo_error *err)
{
    double v = def;
    fivo_status st = get_typed(cfg, section, key, parse_double, &v, "a number", err);
    if (out != NULL)
        *out = st == FIVO_OK ? v : def;
    return st;
}

fivo_status fivo_config_get_bool(const fivo_config *cfg, const char *section, const char *key,
                                 bool def, bool *out, fivo_error *err)
{
    bool v = def;
    fivo_status st = get_typed(cfg, section, key, parse_bool, &v, "true or false", err);
    if (out != NULL)
        *out = st == FIVO_OK ? v : def;
    return st;
}

fivo_status fivo_config_int_or(const fivo_config *cfg, const char *section, const char *key,
                               long def, long *out, fivo_error *err)
{
    fivo_status st = fivo_config_get_int(cfg, section, key, def, out, err);
    return st == FIVO_ERR_NOT_FOUND ? FIVO_OK : st;
}

fivo_status fivo_config_double_or(const fivo_config *cfg, const char *section, const char *key,
                                  double def, double *out, fivo_error *err)
{
    fivo_status st = fivo_config_get_double(cfg, section, key, def, out, err);
    return st == FIVO_ERR_NOT_FOUND ? FIVO_OK : st;
}

fivo_status fivo_config_string_or(const fivo_config *cfg, const char *section, const char *key,
                                  const char *def, const char **out, fivo_error *err)
{
    fivo_status st = fivo_config_get_string(cfg, section, key, def, out, err);
    return st == FIVO_ERR_NOT_FOUND ? FIVO_OK : st;
}

/* ---- Iteration ----------------------------------------------------------- */

const char *const *fivo_config_sections(const fivo_config *cfg)
{
    static const char *const empty[] = {NULL};
    if (cfg == NULL)
        return empty;
    fivo_config *mut = (fivo_config *)cfg; /* the cache is not observable state */
    if (mut->section_cache == NULL) {
        mut->section_cache = g_new0(const char *, cfg->sections->len + 1);
        for (guint i = 0; i < cfg->sections->len; i++)
            mut->section_cache[i] = ((cfg_section *)g_ptr_array_index(cfg->sections, i))->name;
    }
    return mut->section_cache;
}

const char *const *fivo_config_keys(const fivo_config *cfg, const char *section)
{
    static const char *const empty[] = {NULL};
    cfg_section *s = cfg != NULL && section != NULL ? find_section(cfg, section) : NULL;
    if (s == NULL)
        return empty;
    if (s->key_cache == NULL) {
        s->key_cache = g_new0(const char *, s->entries->len + 1);
        for (guint i = 0; i < s->entries->len; i++)
            s->key_cache[i] = ((cfg_entry *)g_ptr_array_index(s->entries, i))->key;
    }
    return s->key_cache;
}
