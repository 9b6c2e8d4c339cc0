/* How a flag row reads in text: its value type and its default. One place,
 * so `--help`, the man page and docs/cli.md say the same. */
#ifndef FIVO_HOST_FLAG_TEXT_H
#define FIVO_HOST_FLAG_TEXT_H

#include <stdbool.h>

#include "flags.h"

/* "INT", "NUMBER", "BOOL", "STRING". */
const char *host_flag_type_name(fivo_option_type t);

/* The row's choices ("a|b|c") when it has some, else its type name. */
const char *host_flag_value_text(const fivo_host_flag *f);

/* True when the row only names a key of the chosen plugin (its default
 * and choices are the plugin's): a row of a plugin section other than
 * `plugin` and the dataset's `path` and `split`. */
bool host_flag_is_plugin_key(const fivo_host_flag *f);

/* The default as shown to users: the row's, "(the plugin's)" for a plugin
 * key, "(none)" otherwise. */
const char *host_flag_default_text(const fivo_host_flag *f);

#endif
