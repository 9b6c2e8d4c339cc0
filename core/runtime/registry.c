/* The plugin registry (see fivo/registry.h) on libltdl. Every candidate is
 * either accepted (descriptor checked, module kept open for the registry's
 * lifetime so descriptor strings and vtables stay valid) or recorded as
 * refused with a reason naming the file; nothing here stops the host. */
#define _XOPEN_SOURCE 700
#include <fivo/internal/plugin_kinds.h>
#include <fivo/internal/registry.h>

#include "registry_check.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <ltdl.h>

struct fivo_registry {
    GPtrArray *plugins;  /* fivo_plugin_info*, file owned */
    GPtrArray *handles;  /* lt_dlhandle of accepted modules */
    GPtrArray *refused;  /* fivo_plugin_refusal*, strings owned */
    GPtrArray *dirs;     /* char*, NULL-terminated view kept in sync */
    GHashTable *seen;    /* canonical paths already looked at */
    bool ltdl_ok;
};

static void info_free(gpointer p)
{
    fivo_plugin_info *info = p;
    g_free((char *)info->file);
    g_free((fivo_option *)info->options);
    g_free(info);
}

static void refusal_free(gpointer p)
{
    fivo_plugin_refusal *r = p;
    g_free((char *)r->file);
    g_free((char *)r->reason);
    g_free(r);
}

fivo_registry *fivo_registry_new(void)
{
    fivo_registry *reg = g_new0(fivo_registry, 1);
    reg->plugins = g_ptr_array_new_with_free_func(info_free);
    reg->handles = g_ptr_array_new();
    reg->refused = g_ptr_array_new_with_free_func(refusal_free);
    reg->dirs = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(reg->dirs, NULL);
    reg->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    /* lt_dlinit / lt_dlexit are reference counted, so each registry may
     * hold its own. */
    reg->ltdl_ok = lt_dlinit() == 0;
    return reg;
}

void fivo_registry_free(fivo_registry *reg)
{
    if (reg == NULL)
        return;
    g_ptr_array_free(reg->plugins, TRUE);
    for (guint i = 0; i < reg->handles->len; i++)
        lt_dlclose(g_ptr_array_index(reg->handles, i));
    g_ptr_array_free(reg->handles, TRUE);
    g_ptr_array_free(reg->refused, TRUE);
    g_ptr_array_free(reg->dirs, TRUE);
    g_hash_table_destroy(reg->seen);
    if (reg->ltdl_ok)
        lt_dlexit();
    g_free(reg);
}

static void refuse(fivo_registry *reg, const char *file, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void refuse(fivo_registry *reg, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fivo_plugin_refusal *r = g_new0(fivo_plugin_refusal, 1);
    r->file = g_strdup(file);
    r->reason = g_strdup_printf("%s: %s", file, why);
    g_free(why);
    g_ptr_array_add(reg->refused, r);
}

/* Row i of the descriptor's options, at the plugin's stride (a newer minor
 * may append fields to its rows). */
static const fivo_option *option_row(const fivo_plugin_descriptor *d, size_t i)
{
    return (const fivo_option *)(const void *)((const char *)d->options + i * d->option_size);
}

/* Row i as this host's struct: an older minor's shorter row reads its
 * missing fields (2.0: min, max) as NULL. */
static fivo_option option_copy(const fivo_plugin_descriptor *d, size_t i)
{
    fivo_option o;
    memset(&o, 0, sizeof o);
    memcpy(&o, option_row(d, i), d->option_size < sizeof o ? d->option_size : sizeof o);
    return o;
}

/* Checks a descriptor; returns NULL when acceptable, else the reason. */
static char *check_descriptor(const fivo_plugin_descriptor *d)
{
    if (d->abi_major != FIVO_ABI_MAJOR)
        return g_strdup_printf("plugin ABI %u.%u, host ABI %u.%u (major versions differ)",
                               (unsigned)d->abi_major, (unsigned)d->abi_minor,
                               FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
    const fivo_plugin_kind_info *ki = fivo_plugin_kind_lookup(d->kind);
    if (ki == NULL)
        return g_strdup_printf("unknown plugin kind %u (expected 1 model, 2 bound, "
                               "3 resampler or 4 dataset)", (unsigned)d->kind);
    const char *kind = ki->name;
    if (d->name == NULL || d->name[0] == '\0')
        return g_strdup_printf("%s plugin descriptor has no name", kind);
    for (const char *p = d->name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-' && *p != '.')
            return g_strdup_printf("%s plugin name '%s' has characters other than "
                                   "letters, digits, '_', '-' and '.'", kind, d->name);
    if (d->vtable == NULL)
        return g_strdup_printf("%s plugin '%s' has no vtable", kind, d->name);
    if (d->vtable_size < ki->min_vtable_size)
        return g_strdup_printf("%s plugin '%s' declares a vtable of %zu bytes, shorter than "
                               "the ABI %u minimum of %zu bytes (%s)",
                               kind, d->name, d->vtable_size, FIVO_ABI_MAJOR,
                               ki->min_vtable_size, ki->min_slots);
    if (d->num_options > 0 && d->options == NULL)
        return g_strdup_printf("%s plugin '%s' declares %zu options but no option table", kind,
                               d->name, d->num_options);
    if (d->num_options > 0 && d->option_size < FIVO_OPTION_SIZE_2_0)
        return g_strdup_printf("%s plugin '%s' declares option rows of %zu bytes, shorter than "
                               "the ABI %u.0 row of %zu bytes (set option_size, e.g. with "
                               "FIVO_PLUGIN_OPTIONS)", kind, d->name, d->option_size,
                               FIVO_ABI_MAJOR, (size_t)FIVO_OPTION_SIZE_2_0);
    /* A C array's row size is a multiple of its alignment; any other stride
     * would read misaligned rows (found by fuzz/fuzz_descriptor.c). */
    if (d->num_options > 0 && d->option_size % _Alignof(fivo_option) != 0)
        return g_strdup_printf("%s plugin '%s' declares option rows of %zu bytes, not a "
                               "multiple of their alignment (%zu)", kind, d->name,
                               d->option_size, (size_t)_Alignof(fivo_option));
    for (size_t i = 0; i < d->num_options; i++) {
        fivo_option o_row = option_copy(d, i);
        const fivo_option *o = &o_row;
        char *why = fivo_option_problem(o);
        if (why != NULL) {
            char *msg = g_strdup_printf("%s plugin '%s': option %zu%s%s%s: %s", kind, d->name, i,
                                        o->key != NULL ? " '" : "", o->key != NULL ? o->key : "",
                                        o->key != NULL ? "'" : "", why);
            free(why);
            return msg;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(option_row(d, j)->key, o->key) == 0)
                return g_strdup_printf("%s plugin '%s' declares option '%s' twice", kind,
                                       d->name, o->key);
    }
    if (d->num_dataset_preferences > 0 && d->kind != FIVO_PLUGIN_MODEL)
        return g_strdup_printf("%s plugin '%s' declares dataset preferences (models only)", kind,
                               d->name);
    if (d->num_dataset_preferences > 0 && d->dataset_preferences == NULL)
        return g_strdup_printf("%s plugin '%s' declares %zu dataset preferences but no table",
                               kind, d->name, d->num_dataset_preferences);
    for (size_t i = 0; i < d->num_dataset_preferences; i++) {
        const fivo_dataset_preference *p = &d->dataset_preferences[i];
        if (p->dataset == NULL || p->dataset[0] == '\0' ||
            (p->num_settings > 0 && p->settings == NULL))
            return g_strdup_printf("%s plugin '%s': dataset preference %zu has no dataset name "
                                   "or no settings table", kind, d->name, i);
        for (size_t k = 0; k < p->num_settings; k++)
            if (p->settings[k].key == NULL || p->settings[k].value == NULL)
                return g_strdup_printf("%s plugin '%s': dataset preference %zu, setting %zu "
                                       "has no key or value", kind, d->name, i, k);
    }
    return NULL;
}

/* libltdl often reports only "file not found" when a module fails to load;
 * say why in terms a user can act on (not a library, or the loader's own
 * reason, e.g. an unresolved symbol). */
static char *load_failure_detail(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (n < 4 || memcmp(magic, "\x7f" "ELF", 4) != 0)
        return g_strdup("not a shared library (no ELF header)");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h != NULL) { /* loads now: the failure was libltdl's own */
        dlclose(h);
        return NULL;
    }
    const char *e = dlerror();
    return e != NULL ? g_strdup(e) : NULL;
}

fivo_status fivo_registry_load_file(fivo_registry *reg, const char *path, fivo_error *err)
{
    if (reg == NULL || path == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "registry: no registry or no file");
    char *canon = realpath(path, NULL);
    const char *key = canon != NULL ? canon : path;
    if (g_hash_table_contains(reg->seen, key)) { /* same file reached twice: once is enough */
        free(canon);
        return FIVO_OK;
    }
    g_hash_table_add(reg->seen, g_strdup(key));
    free(canon);

    if (!reg->ltdl_ok) {
        refuse(reg, path, "cannot load: libltdl failed to initialise");
        return FIVO_OK;
    }
    lt_dlhandle h = lt_dlopen(path);
    if (h == NULL) {
        const char *e = lt_dlerror();
        char *why = load_failure_detail(path);
        refuse(reg, path, "cannot load: %s%s%s", why != NULL ? why : e != NULL ? e : "unknown error",
               why != NULL && e != NULL ? "; libltdl: " : "", why != NULL && e != NULL ? e : "");
        g_free(why);
        return FIVO_OK;
    }
    void *sym = lt_dlsym(h, FIVO_PLUGIN_QUERY_SYMBOL);
    if (sym == NULL) {
        refuse(reg, path, "no %s symbol: not a fivo plugin", FIVO_PLUGIN_QUERY_SYMBOL);
        lt_dlclose(h);
        return FIVO_OK;
    }
    fivo_plugin_query_fn query;
    memcpy(&query, &sym, sizeof query); /* object -> function pointer, portably */
    const fivo_plugin_descriptor *d = query(FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
    if (d == NULL) {
        refuse(reg, path, "%s returned no descriptor for host ABI %u.%u",
               FIVO_PLUGIN_QUERY_SYMBOL, FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
        lt_dlclose(h);
        return FIVO_OK;
    }
    char *why = check_descriptor(d);
    if (why != NULL) {
        refuse(reg, path, "%s", why);
        g_free(why);
        lt_dlclose(h);
        return FIVO_OK;
    }
    const fivo_plugin_info *earlier = fivo_registry_find(reg, (fivo_plugin_kind)d->kind, d->name);
    if (earlier != NULL) {
        refuse(reg, path, "%s plugin '%s' is shadowed by %s (found earlier)",
               fivo_plugin_kind_name((fivo_plugin_kind)d->kind), d->name, earlier->file);
        lt_dlclose(h);
        return FIVO_OK;
    }
    fivo_plugin_info *info = g_new0(fivo_plugin_info, 1);
    info->file = g_strdup(path);
    info->kind = (fivo_plugin_kind)d->kind;
    info->name = d->name;
    info->version = d->version != NULL ? d->version : "?";
    info->description = d->description != NULL ? d->description : "";
    info->abi_major = d->abi_major;
    info->abi_minor = d->abi_minor;
    info->vtable = d->vtable;
    info->vtable_size = d->vtable_size;
    /* Rows copied at the host's stride, so every reader indexes a plain array. */
    info->options = NULL;
    if (d->num_options > 0) {
        fivo_option *rows = g_new0(fivo_option, d->num_options);
        for (size_t i = 0; i < d->num_options; i++)
            rows[i] = option_copy(d, i);
        info->options = rows;
    }
    info->num_options = d->num_options;
    info->dataset_preferences = d->num_dataset_preferences > 0 ? d->dataset_preferences : NULL;
    info->num_dataset_preferences = d->num_dataset_preferences;
    info->extension_data = d->extension_data;
    g_ptr_array_add(reg->plugins, info);
    g_ptr_array_add(reg->handles, h);
    return FIVO_OK;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

fivo_status fivo_registry_scan_dir(fivo_registry *reg, const char *dir, fivo_error *err)
{
    if (reg == NULL || dir == NULL || dir[0] == '\0')
        return FIVO_OK;
    /* Record the folder (once) so `fivo plugins` can say where it looked. */
    bool listed = false;
    for (guint i = 0; i + 1 < reg->dirs->len; i++)
        if (strcmp(g_ptr_array_index(reg->dirs, i), dir) == 0)
            listed = true;
    if (!listed)
        g_ptr_array_insert(reg->dirs, (gint)reg->dirs->len - 1, g_strdup(dir));

    GDir *d = g_dir_open(dir, 0, NULL);
    if (d == NULL)
        return FIVO_OK; /* a missing folder is not an error */
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(name, ".so"))
            g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names); /* deterministic: which file shadows which */
    fivo_status st = FIVO_OK;
    for (guint i = 0; i < names->len && st == FIVO_OK; i++) {
        char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            st = fivo_registry_load_file(reg, path, err);
        g_free(path);
    }
    g_ptr_array_free(names, TRUE);
    return st;
}

static fivo_status scan_path_list(fivo_registry *reg, const char *list, fivo_error *err)
{
    if (list == NULL)
        return FIVO_OK;
    char **parts = g_strsplit(list, G_SEARCHPATH_SEPARATOR_S, -1);
    fivo_status st = FIVO_OK;
    for (int i = 0; parts[i] != NULL && st == FIVO_OK; i++)
        if (parts[i][0] != '\0')
            st = fivo_registry_scan_dir(reg, parts[i], err);
    g_strfreev(parts);
    return st;
}

fivo_status fivo_registry_scan_default(fivo_registry *reg, const fivo_config *cfg,
                                       fivo_error *err)
{
    /* The build tree's folder for the build tree's libfivo, <libdir>/fivo/plugins
     * next to an installed one (wherever it was installed). */
    fivo_status st = fivo_registry_scan_dir(reg, fivo_registry_builtin_dir(), err);
    if (st == FIVO_OK)
        st = scan_path_list(reg, g_getenv("FIVO_PLUGIN_PATH"), err);
    if (st == FIVO_OK && cfg != NULL) {
        const char *extra = NULL;
        fivo_config_get_string(cfg, "fivo", "plugin_path", NULL, &extra, NULL);
        st = scan_path_list(reg, extra, err);
    }
    return st;
}

int fivo_registry_count(const fivo_registry *reg)
{
    return reg != NULL ? (int)reg->plugins->len : 0;
}

const fivo_plugin_info *fivo_registry_at(const fivo_registry *reg, int i)
{
    if (reg == NULL || i < 0 || (guint)i >= reg->plugins->len)
        return NULL;
    return g_ptr_array_index(reg->plugins, i);
}

int fivo_registry_refused_count(const fivo_registry *reg)
{
    return reg != NULL ? (int)reg->refused->len : 0;
}

const fivo_plugin_refusal *fivo_registry_refused_at(const fivo_registry *reg, int i)
{
    if (reg == NULL || i < 0 || (guint)i >= reg->refused->len)
        return NULL;
    return g_ptr_array_index(reg->refused, i);
}

const fivo_plugin_info *fivo_registry_find(const fivo_registry *reg, fivo_plugin_kind kind,
                                           const char *name)
{
    if (reg == NULL || name == NULL)
        return NULL;
    for (guint i = 0; i < reg->plugins->len; i++) {
        const fivo_plugin_info *info = g_ptr_array_index(reg->plugins, i);
        if (info->kind == kind && strcmp(info->name, name) == 0)
            return info;
    }
    return NULL;
}

const char *const *fivo_registry_search_dirs(const fivo_registry *reg)
{
    static const char *const empty[] = {NULL};
    return reg != NULL ? (const char *const *)reg->dirs->pdata : empty;
}

char *fivo_registry_names(const fivo_registry *reg, fivo_plugin_kind kind)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < fivo_registry_count(reg); i++) {
        const fivo_plugin_info *info = fivo_registry_at(reg, i);
        if (info->kind != kind)
            continue;
        if (s->len > 0)
            g_string_append(s, ", ");
        g_string_append(s, info->name);
    }
    if (s->len == 0)
        g_string_append(s, "none");
    char *out = strdup(s->str); /* documented as free()-able */
    g_string_free(s, TRUE);
    return out;
}

/* ---- Opening instances ------------------------------------------------- */

static fivo_status find_for_open(const fivo_registry *reg, fivo_plugin_kind kind,
                                 const char *name, const fivo_plugin_info **out, fivo_error *err)
{
    *out = fivo_registry_find(reg, kind, name);
    if (*out != NULL)
        return FIVO_OK;
    char *avail = fivo_registry_names(reg, kind);
    fivo_status st = fivo_error_set(err, FIVO_ERR_NOT_FOUND,
                                    "no %s plugin named '%s' (available %s plugins: %s)",
                                    fivo_plugin_kind_name(kind), name != NULL ? name : "(null)",
                                    fivo_plugin_kind_name(kind), avail);
    free(avail);
    return st;
}

/* The plugin `name` of `kind` with every slot the kind table requires to
 * open it; FIVO_ERR_ABI names the plugin and the first missing slot. */
static fivo_status find_openable(const fivo_registry *reg, fivo_plugin_kind kind,
                                 const char *name, const fivo_plugin_info **out, fivo_error *err)
{
    fivo_status st = find_for_open(reg, kind, name, out, err);
    if (st != FIVO_OK)
        return st;
    const fivo_plugin_info *info = *out;
    const fivo_plugin_kind_info *ki = fivo_plugin_kind_lookup(kind);
    for (size_t i = 0; i < ki->num_required; i++) {
        const fivo_slot *slot = &ki->required[i];
        if (fivo_slot_present(info->vtable, info->vtable_size, slot))
            continue;
        GString *what_s = g_string_new(slot->any_of[0].name);
        for (int k = 1; k < FIVO_SLOT_MAX_ALTERNATIVES && slot->any_of[k].name != NULL; k++)
            g_string_append_printf(what_s, "%s%s", k == 1 ? " (or " : ", ", slot->any_of[k].name);
        if (slot->any_of[1].name != NULL)
            g_string_append(what_s, ")");
        char *what = g_string_free(what_s, FALSE);
        st = fivo_error_set(err, FIVO_ERR_ABI,
                            "%s plugin '%s' (%s): required slot '%s' is absent (vtable of %zu "
                            "bytes, ABI %u.%u)",
                            ki->name, info->name, info->file, what, info->vtable_size,
                            info->abi_major, info->abi_minor);
        g_free(what);
        return st;
    }
    return FIVO_OK;
}

/* Every instance struct is FIVO_PLUGIN_INSTANCE_FIELDS of its vtable type:
 * the registry fills and clears them through this one layout (by memcpy,
 * so no instance is accessed through another type). */
typedef struct instance {
    FIVO_PLUGIN_INSTANCE_FIELDS(void);
} instance;
_Static_assert(sizeof(instance) == sizeof(fivo_model) && sizeof(instance) == sizeof(fivo_bound) &&
                   sizeof(instance) == sizeof(fivo_resampler) &&
                   sizeof(instance) == sizeof(fivo_dataset),
               "instance structs share one layout");

/* fivo_<kind>_open: the plugin `name` of `kind`, created through the kind
 * table's create with args, into *out (zeroed first, and on any error). */
static fivo_status open_instance(const fivo_registry *reg, fivo_plugin_kind kind,
                                 const char *name, const fivo_plugin_open_args *args, void *out,
                                 fivo_error *err)
{
    const fivo_plugin_kind_info *ki = fivo_plugin_kind_lookup(kind);
    if (out == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo_%s_open: no output", ki->name);
    memset(out, 0, sizeof(instance));
    const fivo_plugin_info *info;
    fivo_status st = find_openable(reg, kind, name, &info, err);
    if (st != FIVO_OK)
        return st;
    void *self = NULL;
    st = ki->create(info->vtable, args, &self, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "%s '%s': ", ki->name, info->name);
    instance inst = {.vt = info->vtable, .vt_size = info->vtable_size, .self = self,
                     .name = info->name, .extension_data = info->extension_data,
                     .struct_size = sizeof inst};
    memcpy(out, &inst, sizeof inst);
    return FIVO_OK;
}

/* fivo_<kind>_close: the kind's destroy (close) slot when the vtable has it. */
static void close_instance(fivo_plugin_kind kind, void *p)
{
    if (p == NULL)
        return;
    const fivo_plugin_kind_info *ki = fivo_plugin_kind_lookup(kind);
    instance inst;
    memcpy(&inst, p, sizeof inst);
    const fivo_slot release = {{ki->release}};
    if (inst.self != NULL && fivo_slot_present(inst.vt, inst.vt_size, &release)) {
        void (*destroy)(void *self);
        memcpy(&destroy, (const char *)inst.vt + ki->release.offset, sizeof destroy);
        destroy(inst.self);
    }
    memset(p, 0, sizeof inst);
}

fivo_status fivo_model_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                            const fivo_data_spec *spec, fivo_params *params, fivo_model *out,
                            fivo_error *err)
{
    /* The host's spec carries its own struct_size, whoever filled it. */
    fivo_data_spec s = {0};
    if (spec != NULL) {
        s = *spec;
        s.struct_size = sizeof s;
    }
    fivo_plugin_open_args a = {.cfg = cfg, .spec = spec != NULL ? &s : NULL, .params = params};
    return open_instance(reg, FIVO_PLUGIN_MODEL, name, &a, out, err);
}

void fivo_model_close(fivo_model *m) { close_instance(FIVO_PLUGIN_MODEL, m); }

fivo_status fivo_bound_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                            fivo_bound *out, fivo_error *err)
{
    return open_instance(reg, FIVO_PLUGIN_BOUND, name, &(fivo_plugin_open_args){.cfg = cfg},
                         out, err);
}

void fivo_bound_close(fivo_bound *b) { close_instance(FIVO_PLUGIN_BOUND, b); }

fivo_status fivo_resampler_open(const fivo_registry *reg, const char *name,
                                const fivo_config *cfg, fivo_resampler *out, fivo_error *err)
{
    return open_instance(reg, FIVO_PLUGIN_RESAMPLER, name, &(fivo_plugin_open_args){.cfg = cfg},
                         out, err);
}

void fivo_resampler_close(fivo_resampler *r) { close_instance(FIVO_PLUGIN_RESAMPLER, r); }

fivo_status fivo_dataset_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                              const char *path, const char *split, fivo_dataset *out,
                              fivo_error *err)
{
    fivo_plugin_open_args a = {.cfg = cfg, .path = path, .split = split};
    return open_instance(reg, FIVO_PLUGIN_DATASET, name, &a, out, err);
}

void fivo_dataset_close(fivo_dataset *d) { close_instance(FIVO_PLUGIN_DATASET, d); }

/* Entry for fuzz/fuzz_descriptor.c (see registry_check.h). */
char *fivo__registry_check_descriptor(const fivo_plugin_descriptor *d)
{
    return check_descriptor(d);
}
