/* The host's configuration step (configure.c): after flags and the key file
 * are merged and the plugins found, checks and defaults every key, the
 * host's from its flag table, each plugin section's from the chosen
 * plugin's declared options. Returns 0, or 2 after printing the error. */
#ifndef FIVO_HOST_CONFIGURE_H
#define FIVO_HOST_CONFIGURE_H

#include <glib.h>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

#include "settings.h"

/* Prints "fivo: error: MESSAGE (see fivo --help)" and returns 2, the exit
 * code of a bad command line or config. */
int fivo_host_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Then fills *out (settings.h): the one place the host's values are read. */
int fivo_host_configure(fivo_config *cfg, const fivo_registry *reg, const char *file,
                        fivo_host_settings *out);

/* A copy of cfg for bound `info` as --mode=eval runs it: the trained bound
 * ([bound] plugin) keeps [bound]; another gets [bound.NAME] as its [bound]
 * section, with its declared defaults. NULL (after printing why) on error.
 * Free with fivo_config_free. */
fivo_config *fivo_host_bound_config(const fivo_config *cfg, const fivo_plugin_info *info);

#endif
