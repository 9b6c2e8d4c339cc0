/* The host's table of flags. Every flag is also a config key ([section]
 * key), so the table is the one place that says which keys the host knows,
 * their types, defaults, allowed values or ranges and help; `--help`, the
 * man page, config validation, <logdir>/config.ini and the typed settings
 * (settings.h) read it. To add a flag, add a row to fivo_host_flags in
 * flags.c (and a member to fivo_host_settings if the host reads it).
 *
 * Defaults are authoritative: after the command line and the key file are
 * merged, every row with a default whose key is still absent is set to it,
 * so modes and plugins read the same value that `--help` shows. */
#ifndef FIVO_HOST_FLAGS_H
#define FIVO_HOST_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#include <fivo/abi.h>

#include "settings.h"

typedef struct fivo_host_flag {
    const char *flag;          /* without "--" */
    const char *section;       /* config section */
    const char *key;           /* key in that section */
    fivo_option_type type;     /* checked when the config is configured */
    const char *default_value; /* NULL: absent unless given */
    const char *choices;       /* "a|b|c" or NULL: any value of the type */
    const char *help;          /* one line */
    const char *min, *max;     /* range, as a plugin's option rows write it (fivo/abi.h):
                                  inclusive, a leading '>' / '<' exclusive; NULL: open */
    size_t field;              /* FIVO_HOST_FIELD(member) of fivo_host_settings the value
                                  is read into (settings.c); 0: the host keeps none */
} fivo_host_flag;

/* A row's field: 1 + the member's offset, so 0 can mean "none". */
#define FIVO_HOST_FIELD(member) (offsetof(fivo_host_settings, member) + 1)

/* The row as a plugin option row, so one check (fivo_option_value_problem)
 * holds a host key and a plugin key to the same rules. */
fivo_option fivo_host_flag_option(const fivo_host_flag *f);

extern const fivo_host_flag fivo_host_flags[];
extern const size_t fivo_host_num_flags;

/* The host's own sections. Plugin sections ([model], [bound], [resampler],
 * [dataset], and [bound.NAME] for bounds eval runs besides the trained one)
 * come from the kind table (fivo/plugin_kinds.h). */
typedef struct fivo_host_section {
    const char *name;
    const char *help;
} fivo_host_section;

extern const fivo_host_section fivo_host_sections[];
extern const size_t fivo_host_num_sections;

const fivo_host_flag *fivo_host_flag_find(const char *flag);
const fivo_host_flag *fivo_host_flag_for_key(const char *section, const char *key);
const fivo_host_section *fivo_host_section_find(const char *name);

struct fivo_registry;
/* `fivo --help`: usage, every flag with its [section] key, type, default
 * and help, every section, and the options the plugins found declare. */
void fivo_host_print_help(FILE *out, const struct fivo_registry *reg);
/* One plugin's options (key, type or choices, default, help), each line
 * after `indent`; for --help and `fivo plugins --verbose`. */
struct fivo_plugin_info;
void fivo_host_print_plugin_options(FILE *out, const struct fivo_plugin_info *p,
                                    const char *indent);

#endif
