/* The plugin registry (host side, libltdl): finds plugin modules, checks
 * their descriptors, and opens instances. A refused candidate never stops
 * the host: it is listed with the reason.
 *
 * Search order (first plugin of a kind and name wins; later ones are
 * refused as shadowed): the build tree's plugin folder, the install folder
 * (<prefix>/lib/fivo/plugins), each folder of FIVO_PLUGIN_PATH (':'
 * separated), then each folder of the config key [fivo] plugin_path.
 * The first two are one folder in practice: fivo_registry_builtin_dir(). */
#ifndef FIVO_REGISTRY_H
#define FIVO_REGISTRY_H

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/params.h>
#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_plugin_info {
    const char *file;          /* the module's path */
    fivo_plugin_kind kind;
    const char *name;
    const char *version;
    const char *description;
    uint32_t abi_major, abi_minor;
    const void *vtable;
    size_t vtable_size;
    const fivo_option *options;  /* a copy at the host's row size (owned by the registry) */
    size_t num_options;
    const fivo_dataset_preference *dataset_preferences; /* models; may be NULL */
    size_t num_dataset_preferences;
    const void *(*extension_data)(const char *uri);     /* may be NULL */
} fivo_plugin_info;

typedef struct fivo_plugin_refusal {
    const char *file;
    const char *reason; /* names the file and, for ABI mismatches, both ABI versions */
} fivo_plugin_refusal;

typedef struct fivo_registry fivo_registry;

fivo_registry *fivo_registry_new(void);
void fivo_registry_free(fivo_registry *reg); /* unloads every module */

/* Scans one folder for loadable modules. A missing folder is not an error. */
fivo_status fivo_registry_scan_dir(fivo_registry *reg, const char *dir, fivo_error *err);
/* Loads one module file (also used by tests). Refusals are recorded, not
 * returned as errors; returns FIVO_OK unless out of memory. */
fivo_status fivo_registry_load_file(fivo_registry *reg, const char *path, fivo_error *err);
/* The standard search order above. cfg may be NULL. */
fivo_status fivo_registry_scan_default(fivo_registry *reg, const fivo_config *cfg,
                                       fivo_error *err);

int fivo_registry_count(const fivo_registry *reg);
const fivo_plugin_info *fivo_registry_at(const fivo_registry *reg, int i);
int fivo_registry_refused_count(const fivo_registry *reg);
const fivo_plugin_refusal *fivo_registry_refused_at(const fivo_registry *reg, int i);
const fivo_plugin_info *fivo_registry_find(const fivo_registry *reg, fivo_plugin_kind kind,
                                           const char *name);
const char *fivo_plugin_kind_name(fivo_plugin_kind kind); /* "model", "bound", ... */
/* Folders scanned so far, in order (NULL-terminated, owned by reg). */
const char *const *fivo_registry_search_dirs(const fivo_registry *reg);
/* "a, b, c": the names of every plugin of `kind` (or "none"); caller frees
 * with free(). For messages about a missing plugin. */
char *fivo_registry_names(const fivo_registry *reg, fivo_plugin_kind kind);

/* The folder of the plugins bundled with this libfivo: the build tree's
 * plugin folder when this libfivo is the one in the build tree, else
 * <folder of libfivo>/fivo/plugins (so an install works wherever it is put,
 * and never loads a build tree's plugins). Static storage, never NULL. */
const char *fivo_registry_builtin_dir(void);

/* ---- options ------------------------------------------------------------
 * A plugin's section is checked against that plugin's own option list:
 * every key of `section` other than `host_keys` (NULL-terminated, may be
 * NULL: keys the host itself reads there, such as `plugin`) must be one the
 * plugin declares; each value must parse as the option's type and be one of
 * its choices; then every declared default fills a key left unset (origin
 * "default"). Errors are FIVO_ERR_INVALID naming where the value came from
 * (file:line or flag), the section, key, plugin, and its keys (with the
 * closest one) or allowed values. */
fivo_status fivo_plugin_apply_options(const fivo_plugin_info *info, fivo_config *cfg,
                                      const char *section, const char *const *host_keys,
                                      fivo_error *err);
/* The option `key` of a plugin, or NULL. */
const fivo_option *fivo_plugin_option(const fivo_plugin_info *info, const char *key);
/* Why an option row is malformed (empty key, unknown type, a default that
 * does not parse or is not among the choices), or NULL when it is fine.
 * Free with free(). The registry refuses plugins with such rows. */
char *fivo_option_problem(const fivo_option *o);
/* NULL when `value` is acceptable for row o (parses as its type, is one of
 * its choices, lies in its range), else what was expected ("an integer",
 * "one of a|b", "a value in [1, 4096]"); free() it. */
char *fivo_option_value_problem(const fivo_option *o, const char *value);
/* "[1, 4096]", "> 0", ">= 1", or NULL without a range; free() it. */
char *fivo_option_range_text(const fivo_option *o);

/* Opening instances: FIVO_ERR_NOT_FOUND names the kind and name and lists
 * the available ones. A required slot missing from a short vtable is
 * FIVO_ERR_ABI naming the plugin and slot. */
fivo_status fivo_model_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                            const fivo_data_spec *spec, fivo_params *params, fivo_model *out,
                            fivo_error *err);
void fivo_model_close(fivo_model *m);
fivo_status fivo_bound_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                            fivo_bound *out, fivo_error *err);
void fivo_bound_close(fivo_bound *b);
fivo_status fivo_resampler_open(const fivo_registry *reg, const char *name,
                                const fivo_config *cfg, fivo_resampler *out, fivo_error *err);
void fivo_resampler_close(fivo_resampler *r);
fivo_status fivo_dataset_open(const fivo_registry *reg, const char *name, const fivo_config *cfg,
                              const char *path, const char *split, fivo_dataset *out,
                              fivo_error *err);
void fivo_dataset_close(fivo_dataset *d);
/* Runs a dataset plugin's optional convert slot (raw data -> its files);
 * FIVO_ERR_UNSUPPORTED naming the plugin when it has none. */
fivo_status fivo_dataset_convert(const fivo_plugin_info *info, const fivo_config *cfg,
                                 fivo_report *report, fivo_error *err);
/* True when the dataset plugin has a convert slot. */
bool fivo_dataset_can_convert(const fivo_plugin_info *info);

#ifdef __cplusplus
}
#endif
#endif
