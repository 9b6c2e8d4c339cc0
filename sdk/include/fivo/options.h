/* Reading a plugin's own options with the defaults its descriptor
 * declares, so a default lives in one place: the option row. The host has
 * already checked the section against those rows and filled the defaults;
 * these readers give the same values when a plugin is created without the
 * host (tests, the conformance kit, another program).
 *
 *   static const fivo_option OPTIONS[] = {{"alpha", FIVO_OPTION_DOUBLE, "0.5", "...", NULL}};
 *   double alpha = 0;
 *   st = fivo_option_double(cfg, "resampler", FIVO_OPTION_ROWS(OPTIONS), "alpha", &alpha, err);
 *
 * Each reader: the value when the key is set; else the row's default;
 * else (a row without default) *out is left as the caller set it, FIVO_OK.
 * A value that does not parse, is not one of the row's choices or lies
 * outside its [min, max] is FIVO_ERR_INVALID naming section, key, value and
 * what was expected; a key missing from the rows is FIVO_ERR_INVALID too
 * (the plugin reads a key it did not declare). So a plugin repeats neither
 * a default nor a check of its rows. */
#ifndef FIVO_OPTIONS_H
#define FIVO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include <fivo/abi.h>
#include <fivo/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_OPTION_ROWS(array) (array), (sizeof(array) / sizeof((array)[0]))

fivo_status fivo_option_int(const fivo_config *cfg, const char *section, const fivo_option *rows,
                            size_t n, const char *key, long *out, fivo_error *err);
fivo_status fivo_option_double(const fivo_config *cfg, const char *section,
                               const fivo_option *rows, size_t n, const char *key, double *out,
                               fivo_error *err);
fivo_status fivo_option_bool(const fivo_config *cfg, const char *section, const fivo_option *rows,
                             size_t n, const char *key, bool *out, fivo_error *err);
/* The string stays valid while cfg does (the row's default: static storage). */
fivo_status fivo_option_string(const fivo_config *cfg, const char *section,
                               const fivo_option *rows, size_t n, const char *key,
                               const char **out, fivo_error *err);

/* True when the user gave [section] key (a flag, --set, a key file or a
 * run's config.ini), false when it is absent or was filled by the host
 * from a row's default or a model's preference. For a plugin whose own
 * default yields to a fact of the data unless the user chose (the GHMM's
 * num_timesteps): the one documented way to tell the two apart. */
bool fivo_option_is_set(const fivo_config *cfg, const char *section, const char *key);

#ifdef __cplusplus
}
#endif
#endif
