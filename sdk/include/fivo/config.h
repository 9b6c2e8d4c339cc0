/* The merged configuration: key files and command-line flags, each value
 * with its origin. The host builds and edits it; plugins receive it as a
 * const pointer and only read it. Sections are named after plugin kinds
 * ("model", "bound", "resampler", "dataset") plus "fivo", "train", "eval"
 * and "sample" for the host itself; see docs/cli.md.
 *
 * Getters return FIVO_OK and write *out, or FIVO_ERR_NOT_FOUND leaving *out
 * equal to `def` when the key is absent, or FIVO_ERR_INVALID (with a message
 * naming section, key, value and the expected type) when it does not parse. */
#ifndef FIVO_CONFIG_H
#define FIVO_CONFIG_H

#include <stdbool.h>
#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_config fivo_config;

fivo_config *fivo_config_new(void);
void fivo_config_free(fivo_config *cfg);

/* Loads a GLib key file. Errors name the file and line. Keys already set
 * (e.g. from flags) are NOT overwritten when `keep_existing` is true. */
fivo_status fivo_config_load_file(fivo_config *cfg, const char *path, bool keep_existing,
                                  fivo_error *err);
fivo_status fivo_config_load_data(fivo_config *cfg, const char *text, const char *origin,
                                  bool keep_existing, fivo_error *err);

fivo_status fivo_config_set(fivo_config *cfg, const char *section, const char *key,
                            const char *value);
bool fivo_config_has(const fivo_config *cfg, const char *section, const char *key);
/* Like fivo_config_set, recording where the value came from (a file name,
 * "--flag"); error messages about that key name the origin. */
fivo_status fivo_config_set_from(fivo_config *cfg, const char *section, const char *key,
                                 const char *value, const char *origin);
/* Origins the host records for values it filled itself: a row's default
 * and a model's dataset preference ("preferred by model 'NAME'"). Any
 * other origin is the user's (see fivo_option_is_set, fivo/options.h). */
#define FIVO_CONFIG_ORIGIN_DEFAULT "default"
#define FIVO_CONFIG_ORIGIN_PREFERRED "preferred by"

/* Where a key's value came from (file name, flag), or NULL when unknown/absent. */
const char *fivo_config_origin(const fivo_config *cfg, const char *section, const char *key);

/* Absent -> FIVO_ERR_NOT_FOUND and *out = def (not an error for callers
 * that have a default; use fivo_config_get_* with status checks). */
fivo_status fivo_config_get_string(const fivo_config *cfg, const char *section, const char *key,
                                   const char *def, const char **out, fivo_error *err);
fivo_status fivo_config_get_int(const fivo_config *cfg, const char *section, const char *key,
                                long def, long *out, fivo_error *err);
fivo_status fivo_config_get_double(const fivo_config *cfg, const char *section, const char *key,
                                   double def, double *out, fivo_error *err);
fivo_status fivo_config_get_bool(const fivo_config *cfg, const char *section, const char *key,
                                 bool def, bool *out, fivo_error *err);

/* Convenience for plugins: absent is fine (returns FIVO_OK with the default),
 * a malformed value is FIVO_ERR_INVALID. */
fivo_status fivo_config_int_or(const fivo_config *cfg, const char *section, const char *key,
                               long def, long *out, fivo_error *err);
fivo_status fivo_config_double_or(const fivo_config *cfg, const char *section, const char *key,
                                  double def, double *out, fivo_error *err);
fivo_status fivo_config_string_or(const fivo_config *cfg, const char *section, const char *key,
                                  const char *def, const char **out, fivo_error *err);

/* Iteration (host side: validation against declared options). The returned
 * arrays are NULL-terminated and owned by cfg until the next modification. */
const char *const *fivo_config_sections(const fivo_config *cfg);
const char *const *fivo_config_keys(const fivo_config *cfg, const char *section);

#ifdef __cplusplus
}
#endif
#endif
