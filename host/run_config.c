/* <logdir>/config.ini (see run_config.h). */
#include "run_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <fivo/atomic_file.h>
#include <fivo/internal/plugin_kinds.h>
#include <fivo/internal/registry.h>

#include "configure.h"
#include "flags.h"

/* How config.ini marks a value the run took from a row's default, and the
 * origin such a value gets when inherited (still a default: a plugin's
 * fivo_option_is_set says false, as in the run itself). */
#define FROM_DEFAULT "from: " FIVO_CONFIG_ORIGIN_DEFAULT
#define INHERITED_DEFAULT FIVO_CONFIG_ORIGIN_DEFAULT ", via "

static const char *value_or_row_default(const fivo_config *cfg, const char *section,
                                        const char *key)
{
    const char *v = NULL;
    if (fivo_config_get_string(cfg, section, key, NULL, &v, NULL) == FIVO_OK)
        return v;
    const fivo_host_flag *f = fivo_host_flag_for_key(section, key);
    return f != NULL ? f->default_value : NULL;
}

/* Keys a mode takes from the run. */
static bool inherits(const char *mode, const char *section, const char *key)
{
    if (strcmp(section, "fivo") == 0 &&
        (strcmp(key, "mode") == 0 || strcmp(key, "logdir") == 0))
        return false;
    if (strcmp(mode, "train") == 0)
        return true;
    if (strcmp(section, "fivo") == 0)
        return strcmp(key, "plugin_path") == 0 || strcmp(key, "random_seed") == 0 ||
               strcmp(key, "batch_size") == 0 || strcmp(key, "num_samples") == 0;
    return strcmp(section, "model") == 0 || strcmp(section, "bound") == 0 ||
           strcmp(section, "resampler") == 0 || strcmp(section, "dataset") == 0 ||
           g_str_has_prefix(section, "bound.");
}

/* The same value, also when written differently ("32" and "32.0"). */
static bool same_value(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    char *ea = NULL, *eb = NULL;
    double x = g_ascii_strtod(a, &ea), y = g_ascii_strtod(b, &eb);
    return ea != a && *ea == '\0' && eb != b && *eb == '\0' && x == y;
}

int fivo_host_run_config_inherit(fivo_config *cfg)
{
    const char *mode = value_or_row_default(cfg, "fivo", "mode");
    const char *logdir = value_or_row_default(cfg, "fivo", "logdir");
    if (mode == NULL || logdir == NULL ||
        (strcmp(mode, "train") != 0 && strcmp(mode, "eval") != 0 && strcmp(mode, "sample") != 0))
        return 0;
    char *path = g_build_filename(logdir, FIVO_RUN_CONFIG_NAME, NULL);
    int rc = 0;
    GKeyFile *kf = g_key_file_new();
    fivo_config *run = fivo_config_new();
    fivo_error err = {0};
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        goto out;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL) ||
        fivo_config_load_file(run, path, false, &err) != FIVO_OK) {
        rc = fivo_host_usage_error("%s: the settings of the run in %s cannot be read: %s", path,
                                   logdir, err.message[0] ? err.message : "not a key file");
        goto out;
    }
    const char *const *sections = fivo_config_sections(run);
    char **secs = g_strdupv((char **)sections); /* setting keys changes the arrays */
    for (int s = 0; secs[s] != NULL && rc == 0; s++) {
        char **keys = g_strdupv((char **)fivo_config_keys(run, secs[s]));
        for (int k = 0; keys != NULL && keys[k] != NULL && rc == 0; k++) {
            if (!inherits(mode, secs[s], keys[k]))
                continue;
            const char *was = NULL, *now = NULL;
            fivo_config_get_string(run, secs[s], keys[k], NULL, &was, NULL);
            if (fivo_config_get_string(cfg, secs[s], keys[k], NULL, &now, NULL) == FIVO_OK) {
                /* What the checkpoint was trained as is not the command's to change. */
                if (strcmp(secs[s], "model") == 0 && !same_value(was, now))
                    rc = fivo_host_usage_error(
                        "%s: [model] %s = %s, but the run in %s was trained with [model] %s = %s "
                        "(%s); drop it to use the run's, or use another --logdir",
                        fivo_config_origin(cfg, secs[s], keys[k]), keys[k], now, logdir,
                        keys[k], was, fivo_config_origin(run, secs[s], keys[k]));
                continue;
            }
            char *comment = g_key_file_get_comment(kf, secs[s], keys[k], NULL);
            bool was_default = comment != NULL && strstr(comment, FROM_DEFAULT) != NULL;
            g_free(comment);
            char *origin = was_default ? g_strdup_printf(INHERITED_DEFAULT "%s", path)
                                       : g_strdup(fivo_config_origin(run, secs[s], keys[k]));
            fivo_config_set_from(cfg, secs[s], keys[k], was, origin);
            g_free(origin);
        }
        g_strfreev(keys);
    }
    g_strfreev(secs);
out:
    fivo_config_free(run);
    g_key_file_free(kf);
    g_free(path);
    return rc;
}

/* "from: default", "from: flag --latent_size", "from: file run.ini:12". */
static char *comment_of(const char *origin)
{
    if (origin == NULL)
        return g_strdup(" from: the host");
    if (g_str_has_prefix(origin, FIVO_CONFIG_ORIGIN_DEFAULT))
        return g_strdup(" " FROM_DEFAULT);
    if (g_str_has_prefix(origin, "--") || strcmp(origin, "command line") == 0)
        return g_strdup_printf(" from: flag %s", origin);
    if (g_str_has_prefix(origin, FIVO_CONFIG_ORIGIN_PREFERRED) || origin[0] == '[')
        return g_strdup_printf(" from: %s", origin);
    return g_strdup_printf(" from: file %s", origin);
}

/* Keys of a section that have no value, as comments, so the file names
 * every key: the host's rows of its own sections, the chosen plugin's rows
 * of a plugin section. */
static void note_unset(GString *out, const fivo_config *cfg, const fivo_host *h,
                       const char *section)
{
    const fivo_plugin_kind_info *kind = fivo_plugin_kind_by_section(section);
    for (size_t i = 0; kind == NULL && i < fivo_host_num_flags; i++) {
        const fivo_host_flag *f = &fivo_host_flags[i];
        if (strcmp(f->section, section) == 0 && !fivo_config_has(cfg, section, f->key))
            g_string_append_printf(out, "# %s: unset\n", f->key);
    }
    const char *name = NULL;
    if (kind == NULL || fivo_config_get_string(cfg, section, "plugin", NULL, &name, NULL) != FIVO_OK)
        return;
    const fivo_plugin_info *p = fivo_registry_find(h->reg, kind->kind, name);
    for (size_t i = 0; p != NULL && i < p->num_options; i++)
        if (!fivo_config_has(cfg, section, p->options[i].key))
            g_string_append_printf(out, "# %s: unset (the plugin decides)\n", p->options[i].key);
}

int fivo_host_run_config_write(const fivo_host *h)
{
    const fivo_config *cfg = h->cfg;
    GString *out = g_string_new(NULL);
    g_string_append_printf(out,
                           "# The resolved settings of this run, written by fivo before it "
                           "started.\n# Repeat it with: fivo --config %s/" FIVO_RUN_CONFIG_NAME
                           " (add --logdir=OTHER for a fresh copy)\n",
                           h->set.logdir);
    const char *const *sections = fivo_config_sections(cfg);
    for (int s = 0; sections[s] != NULL; s++) {
        GKeyFile *kf = g_key_file_new(); /* one section at a time: GLib escapes the values */
        const char *const *keys = fivo_config_keys(cfg, sections[s]);
        for (int k = 0; keys[k] != NULL; k++) {
            const char *v = NULL;
            fivo_config_get_string(cfg, sections[s], keys[k], NULL, &v, NULL);
            g_key_file_set_string(kf, sections[s], keys[k], v);
            char *c = comment_of(fivo_config_origin(cfg, sections[s], keys[k]));
            g_key_file_set_comment(kf, sections[s], keys[k], c, NULL);
            g_free(c);
        }
        if (keys[0] == NULL)
            g_string_append_printf(out, "\n[%s]\n", sections[s]);
        else {
            char *text = g_key_file_to_data(kf, NULL, NULL);
            g_string_append_printf(out, "\n%s", text);
            g_free(text);
        }
        note_unset(out, cfg, h, sections[s]);
        g_key_file_free(kf);
    }
    char *path = g_build_filename(h->set.logdir, FIVO_RUN_CONFIG_NAME, NULL);
    fivo_error err = {0};
    int rc = 0;
    if (fivo_file_write_atomic(path, out->str, out->len, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
    }
    g_free(path);
    g_string_free(out, TRUE);
    return rc;
}
