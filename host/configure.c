/* From the merged config (flags over key file) to the values every mode
 * and plugin reads, in one place: the host's own keys are checked against
 * the flag table and defaulted from it; a model's dataset preference fills
 * an unchosen dataset; then each plugin section is checked against the
 * chosen plugin's own options and defaulted from them. Exit codes: 2 for a
 * bad key or value. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <fivo/internal/closest_name.h>
#include <fivo/options.h>
#include <fivo/internal/plugin_kinds.h>
#include <fivo/internal/registry.h>

#include "configure.h"
#include "flags.h"

int fivo_host_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "fivo: error: %s\n(see fivo --help)\n", msg);
    g_free(msg);
    return 2;
}

/* Keys the host itself reads in a plugin section. */
static const char *const PLUGIN_KEYS[] = {"plugin", NULL};
static const char *const DATASET_KEYS[] = {"plugin", "path", "split", NULL};

static const char *const *host_keys_of(const char *section)
{
    return strcmp(section, "dataset") == 0 ? DATASET_KEYS : PLUGIN_KEYS;
}

/* "bound.NAME": settings of a bound --mode=eval runs besides the trained one. */
static const char *eval_bound_name(const char *section)
{
    return g_str_has_prefix(section, "bound.") && section[6] != '\0' ? section + 6 : NULL;
}

static const char *where(const fivo_config *cfg, const char *section, const char *key,
                         const char *fallback)
{
    const char *w = key != NULL ? fivo_config_origin(cfg, section, key) : NULL;
    return w != NULL ? w : fallback != NULL ? fallback : "config";
}

/* Sections: the host's, the kinds', or [bound.NAME]. Keys of the host's
 * sections: its flag table rows. */
static int check_host_sections(const fivo_config *cfg, const char *file)
{
    size_t nk;
    const fivo_plugin_kind_info *kinds = fivo_plugin_kinds(&nk);
    const char *const *sections = fivo_config_sections(cfg);
    for (int s = 0; sections[s] != NULL; s++) {
        const char *sec = sections[s];
        const char *const *keys = fivo_config_keys(cfg, sec);
        if (fivo_plugin_kind_by_section(sec) != NULL || eval_bound_name(sec) != NULL)
            continue;
        bool host = false;
        for (size_t i = 0; i < fivo_host_num_sections; i++)
            host = host || strcmp(fivo_host_sections[i].name, sec) == 0;
        if (!host) {
            GPtrArray *names = g_ptr_array_new();
            for (size_t i = 0; i < fivo_host_num_sections; i++)
                g_ptr_array_add(names, (gpointer)fivo_host_sections[i].name);
            for (size_t i = 0; i < nk; i++)
                g_ptr_array_add(names, (gpointer)kinds[i].section);
            int rc = fivo_host_usage_error("%s: unknown section [%s]; did you mean [%s]?",
                                 where(cfg, sec, keys[0], file), sec,
                                 fivo_closest_name(sec, (const char *const *)names->pdata,
                                                   names->len));
            g_ptr_array_free(names, TRUE);
            return rc;
        }
        for (int k = 0; keys[k] != NULL; k++) {
            if (fivo_host_flag_for_key(sec, keys[k]) != NULL)
                continue;
            GPtrArray *known = g_ptr_array_new();
            for (size_t i = 0; i < fivo_host_num_flags; i++)
                if (strcmp(fivo_host_flags[i].section, sec) == 0)
                    g_ptr_array_add(known, (gpointer)fivo_host_flags[i].key);
            int rc = fivo_host_usage_error("%s: unknown key '%s' in [%s]; did you mean '%s'?",
                                 where(cfg, sec, keys[k], file), keys[k], sec,
                                 fivo_closest_name(keys[k], (const char *const *)known->pdata,
                                                   known->len));
            g_ptr_array_free(known, TRUE);
            return rc;
        }
    }
    return 0;
}

/* Defaults, types, value lists and ranges of the host's rows, with the
 * check a plugin's rows get (plugin-key rows have none: the plugin's own
 * rows below handle those keys). */
static int apply_host_rows(fivo_config *cfg)
{
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        if (f->default_value != NULL && !fivo_config_has(cfg, f->section, f->key))
            fivo_config_set_from(cfg, f->section, f->key, f->default_value,
                                 FIVO_CONFIG_ORIGIN_DEFAULT);
    }
    for (size_t i = 0; i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        bool host_key = fivo_plugin_kind_by_section(f->section) == NULL ||
                        g_strv_contains(host_keys_of(f->section), f->key);
        if (!host_key || !fivo_config_has(cfg, f->section, f->key))
            continue;
        const char *v = NULL;
        fivo_config_get_string(cfg, f->section, f->key, NULL, &v, NULL);
        fivo_option row = fivo_host_flag_option(f);
        char *why = fivo_option_value_problem(&row, v);
        if (why != NULL) {
            int rc = fivo_host_usage_error("%s: [%s] %s = '%s': expected %s",
                                           where(cfg, f->section, f->key, NULL), f->section,
                                           f->key, v, why);
            free(why);
            return rc;
        }
    }
    return 0;
}

static const fivo_plugin_info *chosen(const fivo_config *cfg, const fivo_registry *reg,
                                      fivo_plugin_kind kind)
{
    const char *name = NULL;
    fivo_config_get_string(cfg, fivo_plugin_kind_name(kind), "plugin", NULL, &name, NULL);
    return name != NULL ? fivo_registry_find(reg, kind, name) : NULL;
}

/* A preference's value: itself, or for "[model] KEY" the model's KEY (the
 * user's value, else the row's default; NULL when neither). */
static const char *model_value(const fivo_config *cfg, const fivo_plugin_info *model,
                               const char *value)
{
    if (value == NULL || !g_str_has_prefix(value, FIVO_SETTING_FROM_MODEL))
        return value;
    const char *key = value + strlen(FIVO_SETTING_FROM_MODEL);
    const char *v = NULL;
    if (fivo_config_get_string(cfg, "model", key, NULL, &v, NULL) == FIVO_OK)
        return v;
    const fivo_option *row = fivo_plugin_option(model, key);
    return row != NULL ? row->default_value : NULL;
}

/* A model's dataset preference: the dataset when the user chose none, then
 * that preference's settings for [dataset] keys left unset. */
static void apply_model_preferences(fivo_config *cfg, const fivo_registry *reg)
{
    const fivo_plugin_info *model = chosen(cfg, reg, FIVO_PLUGIN_MODEL);
    if (model == NULL || model->num_dataset_preferences == 0)
        return;
    char *origin = g_strdup_printf(FIVO_CONFIG_ORIGIN_PREFERRED " model '%s'", model->name);
    bool user_chose = fivo_option_is_set(cfg, "dataset", "plugin");
    int with_path = fivo_config_has(cfg, "dataset", "path") ? 1 : 0;
    if (!user_chose)
        for (size_t i = 0; i < model->num_dataset_preferences; i++)
            if (model->dataset_preferences[i].with_path == with_path) {
                fivo_config_set_from(cfg, "dataset", "plugin",
                                     model->dataset_preferences[i].dataset, origin);
                break;
            }
    const char *ds = NULL;
    fivo_config_get_string(cfg, "dataset", "plugin", NULL, &ds, NULL);
    for (size_t i = 0; ds != NULL && i < model->num_dataset_preferences; i++) {
        const fivo_dataset_preference *p = &model->dataset_preferences[i];
        if (strcmp(p->dataset, ds) != 0 || p->with_path != with_path)
            continue;
        for (size_t k = 0; k < p->num_settings; k++) {
            const fivo_setting *set = &p->settings[k];
            const char *value = model_value(cfg, model, set->value);
            if (value != NULL && !fivo_config_has(cfg, "dataset", set->key) &&
                (set->unless_key == NULL || !fivo_config_has(cfg, "dataset", set->unless_key)))
                fivo_config_set_from(cfg, "dataset", set->key, value, origin);
        }
        break;
    }
    g_free(origin);
}

/* [bound.NAME] of the trained bound fills the [bound] keys that flags and
 * [bound] itself leave unset: one config can carry every bound's settings
 * and --bound picks one (a recipe's FIVO settings do not break --bound=elbo). */
static void fold_trained_bound_section(fivo_config *cfg)
{
    const char *trained = NULL;
    if (fivo_config_get_string(cfg, "bound", "plugin", NULL, &trained, NULL) != FIVO_OK ||
        trained == NULL)
        return;
    char *section = g_strdup_printf("bound.%s", trained);
    const char *const *live = fivo_config_keys(cfg, section);
    char **keys = live != NULL ? g_strdupv((char **)live) : NULL; /* setting keys changes cfg's arrays */
    for (int k = 0; keys != NULL && keys[k] != NULL; k++) {
        if (fivo_config_has(cfg, "bound", keys[k]))
            continue;
        const char *v = NULL;
        fivo_config_get_string(cfg, section, keys[k], NULL, &v, NULL);
        fivo_config_set_from(cfg, "bound", keys[k], v, fivo_config_origin(cfg, section, keys[k]));
    }
    g_strfreev(keys);
    g_free(section);
}

/* Each plugin section against its chosen plugin. A plugin that is not
 * found is left to the mode that needs it (it names what is missing). */
static int apply_plugin_options(fivo_config *cfg, const fivo_registry *reg)
{
    fivo_error err = {0};
    size_t nk;
    const fivo_plugin_kind_info *kinds = fivo_plugin_kinds(&nk);
    for (size_t i = 0; i < nk; i++) {
        const fivo_plugin_info *p = chosen(cfg, reg, kinds[i].kind);
        if (p != NULL && fivo_plugin_apply_options(p, cfg, kinds[i].section,
                                                   host_keys_of(kinds[i].section), &err) != FIVO_OK)
            return fivo_host_usage_error("%s", err.message);
    }
    const char *const *sections = fivo_config_sections(cfg);
    char **names = g_strdupv((char **)sections); /* applying defaults changes cfg's arrays */
    int rc = 0;
    for (int s = 0; names[s] != NULL && rc == 0; s++) {
        const char *bound = eval_bound_name(names[s]);
        if (bound == NULL)
            continue;
        const fivo_plugin_info *p = fivo_registry_find(reg, FIVO_PLUGIN_BOUND, bound);
        if (p == NULL) {
            char *avail = fivo_registry_names(reg, FIVO_PLUGIN_BOUND);
            const char *const *keys = fivo_config_keys(cfg, names[s]);
            rc = fivo_host_usage_error("%s: section [%s] names no bound plugin '%s' (available: %s)",
                             where(cfg, names[s], keys[0], NULL), names[s], bound, avail);
            free(avail);
        } else if (fivo_plugin_apply_options(p, cfg, names[s], NULL, &err) != FIVO_OK) {
            rc = fivo_host_usage_error("%s", err.message);
        }
    }
    g_strfreev(names);
    return rc;
}

int fivo_host_configure(fivo_config *cfg, const fivo_registry *reg, const char *file,
                        fivo_host_settings *out)
{
    int rc = check_host_sections(cfg, file);
    if (rc == 0)
        rc = apply_host_rows(cfg);
    if (rc == 0) {
        apply_model_preferences(cfg, reg);
        fold_trained_bound_section(cfg);
        rc = apply_plugin_options(cfg, reg);
    }
    if (rc == 0)
        rc = fivo_host_settings_fill(cfg, out);
    return rc;
}

fivo_config *fivo_host_bound_config(const fivo_config *cfg, const fivo_plugin_info *info)
{
    const char *bound = info->name;
    const char *trained = NULL;
    fivo_config_get_string(cfg, "bound", "plugin", NULL, &trained, NULL);
    bool is_trained = trained != NULL && strcmp(trained, bound) == 0; /* reads [bound] itself */
    fivo_config *out = fivo_config_new();
    char *section = g_strdup_printf("bound.%s", bound);
    const char *const *sections = fivo_config_sections(cfg);
    for (int s = 0; sections[s] != NULL; s++) {
        if (strcmp(sections[s], "bound") == 0 && !is_trained)
            continue;
        bool as_bound = !is_trained && strcmp(sections[s], section) == 0;
        const char *const *keys = fivo_config_keys(cfg, sections[s]);
        for (int k = 0; keys[k] != NULL; k++) {
            const char *v = NULL;
            fivo_config_get_string(cfg, sections[s], keys[k], NULL, &v, NULL);
            fivo_config_set_from(out, as_bound ? "bound" : sections[s], keys[k], v,
                                 fivo_config_origin(cfg, sections[s], keys[k]));
        }
    }
    fivo_config_set_from(out, "bound", "plugin", bound, "[eval] bounds");
    g_free(section);
    /* Its section was checked when the run was configured; this fills the defaults. */
    fivo_error err = {0};
    if (fivo_plugin_apply_options(info, out, "bound", PLUGIN_KEYS, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_config_free(out);
        return NULL;
    }
    return out;
}
