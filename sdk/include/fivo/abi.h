/* fivo plugin ABI: the descriptor every plugin module exports.
 *
 * One loadable module = one plugin. It exports exactly one C symbol,
 * FIVO_PLUGIN_QUERY_SYMBOL, of type fivo_plugin_query_fn. The host calls it
 * once after loading and reads the descriptor it returns.
 *
 * Versioning (SQLite VFS / LV2 style):
 *  - FIVO_ABI_MAJOR changes when any existing layout or meaning changes.
 *    The host refuses a plugin whose abi_major differs from its own.
 *  - FIVO_ABI_MINOR grows when a slot is appended to a vtable, a field to
 *    the descriptor or a field to an option row. Each only grows at the
 *    end, and the host reads
 *      a vtable slot only when the plugin's vtable_size covers it
 *        (FIVO_VTABLE_HAS),
 *      a descriptor field only when the plugin's abi_minor is at least the
 *        minor that added it (written beside each field),
 *      option rows with the plugin's option_size as their stride,
 *    so a plugin built for an older minor loads fine and what it lacks
 *    counts as absent.
 *
 * History: 1.0 the first ABI. 2.0, made before any outside plugin
 * existed: option rows gained `choices` (a new row stride, which no minor
 * can express for 1.0 plugins, so the host refuses them), the descriptor
 * gained option_size, model dataset preferences and extension_data.
 * 2.1: option rows gained `min` and `max` (a 2.0 plugin's rows,
 * FIVO_OPTION_SIZE_2_0 bytes, load as rows without a range); the bound
 * vtable's train_loss slot; the fivo.ext.tilt extension's latent_size and
 * step_terms slots (fivo-aux-td). 2.2: the fivo.ext.tilt extension's
 * future_size and future slots (sixo); the structs that cross the ABI
 * (fivo_batch, fivo_data_spec, fivo_dataset_info, fivo_smc_options and the
 * instance structs) end with struct_size (below), so they too can grow.
 * 2.3: the model vtable's set_observations_stepwise slot (training memory
 * bounded by the state on long sequences).
 *
 * Growing structs (2.2, SQLite's iVersion, Win32's cbSize): each of those
 * structs ends with
 *     size_t struct_size;   sizeof the struct as its writer was built
 * and fields are only ever appended after it. A field before struct_size is
 * always there; a field added after it is read only when
 * FIVO_STRUCT_HAS(p, type, field), and 0 in it always means "absent", so a
 * writer that knew nothing of it (or left struct_size 0: "up to struct_size")
 * reads the same as one that set it to 0.
 *  - what the host hands a plugin (fivo_data_spec, the instance structs):
 *    the host sets struct_size to its own sizeof;
 *  - what a plugin fills for the host (fivo_dataset_info, fivo_batch from a
 *    dataset): the host zeroes *out and sets struct_size to its sizeof (the
 *    room); the plugin fills only fields FIVO_STRUCT_HAS says fit, and may
 *    lower struct_size to its own sizeof (or leave it);
 *  - what a plugin hands libfivo (fivo_smc_options, a fivo_batch it made):
 *    the plugin sets struct_size (0 is fine: "the 2.2 fields"). libfivo
 *    reads nothing past struct_size today; the first field appended after
 *    it comes with an entry point that also takes the caller's sizeof,
 *    because a bound built before 2.2 has no struct_size to read. */
#ifndef FIVO_ABI_H
#define FIVO_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_ABI_MAJOR 2u
#define FIVO_ABI_MINOR 3u

/* The one symbol a plugin module exports. */
#define FIVO_PLUGIN_QUERY_SYMBOL "fivo_plugin_query"

#if defined(__GNUC__)
#define FIVO_EXPORT __attribute__((visibility("default")))
#else
#define FIVO_EXPORT
#endif

typedef enum fivo_plugin_kind {
    FIVO_PLUGIN_MODEL = 1,
    FIVO_PLUGIN_BOUND = 2,
    FIVO_PLUGIN_RESAMPLER = 3,
    FIVO_PLUGIN_DATASET = 4
} fivo_plugin_kind;

/* Type of a configuration option a plugin accepts. */
typedef enum fivo_option_type {
    FIVO_OPTION_INT = 1,
    FIVO_OPTION_DOUBLE = 2,
    FIVO_OPTION_BOOL = 3,
    FIVO_OPTION_STRING = 4
} fivo_option_type;

/* One key a plugin reads from its config section. The plugin's section is
 * checked against its own list only: an unknown key, a value that does not
 * parse as `type`, is not one of `choices` or lies outside [min, max] is
 * refused by the host before the plugin is created, naming the plugin, the
 * section, the key, the range and where the value came from. Keys left
 * unset get `default_value`, so the plugin, --help, config.ini and metrics
 * see the same value; the plugin then checks nothing the row says. */
typedef struct fivo_option {
    const char *key;           /* MUST be non-NULL, snake_case, unique in the list */
    fivo_option_type type;
    const char *default_value; /* textual default, or NULL when none (the plugin
                                  then decides, e.g. "latent_size") */
    const char *help;          /* one line */
    const char *choices;       /* (2.0) "a|b|c": the only values accepted; NULL: any
                                  value of the type. A default MUST be one of them. */
    /* (2.1) Range of an INT or DOUBLE option, as text like default_value;
     * NULL: unbounded on that side. Inclusive; a leading '>' on min (or '<'
     * on max) makes that side exclusive: {"rate", ..., ">0", NULL} is rate > 0.
     * A default MUST lie inside. A 2.0 plugin's rows end before min. */
    const char *min;
    const char *max;
} fivo_option;

/* Bytes of an option row of ABI 2.0 (before min and max): the shortest
 * option_size the host accepts. */
#define FIVO_OPTION_SIZE_2_0 offsetof(fivo_option, min)

/* One setting of another plugin's section, as a preference (below). A
 * value "[model] KEY" is the model's own KEY as resolved (the user's value,
 * else the model row's default): how a model hands a dataset what it needs
 * of the model (the GHMM's num_timesteps to its chain data) without the
 * dataset reading [model]. */
#define FIVO_SETTING_FROM_MODEL "[model] "
typedef struct fivo_setting {
    const char *key;
    const char *value;
    const char *unless_key; /* not applied when this key of the section is set; may be NULL */
} fivo_setting;

/* What a model prefers for its data (2.0), read by the host before it
 * opens the dataset: when the user chose no [dataset] plugin, the first
 * preference whose `with_path` matches whether [dataset] path is set names
 * the dataset plugin; then the settings of the preference naming the chosen
 * dataset fill [dataset] keys the user left unset. Lets the GHMM (or any
 * model) default to its own synthetic data without the host naming it. */
typedef struct fivo_dataset_preference {
    const char *dataset;          /* dataset plugin name */
    int with_path;                /* 1: applies when [dataset] path is set, 0: when not */
    const fivo_setting *settings; /* defaults for [dataset] keys; may be NULL */
    size_t num_settings;
} fivo_dataset_preference;

typedef struct fivo_plugin_descriptor {
    uint32_t abi_major;        /* MUST be FIVO_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;        /* MUST be FIVO_ABI_MINOR the plugin was built with */
    uint32_t kind;             /* a fivo_plugin_kind */
    const char *name;          /* MUST be non-NULL, unique per kind, e.g. "vrnn" */
    const char *version;       /* the plugin's own version, e.g. "1.0.0" */
    const char *description;   /* one line */
    const void *vtable;        /* MUST point to the kind's vtable struct */
    size_t vtable_size;        /* MUST be sizeof(that vtable) as the plugin saw it, and
                                  at least its create+destroy (dataset: open+close)
                                  slots, else the plugin is refused */
    const fivo_option *options;/* keys of the plugin's config section; may be NULL */
    size_t num_options;
    size_t option_size;        /* (2.0) MUST be sizeof(fivo_option) as the plugin saw it
                                  when num_options > 0 (FIVO_PLUGIN_OPTIONS sets all three);
                                  the host reads each row's first min(option_size,
                                  sizeof(fivo_option)) bytes, the rest as NULL */
    /* (2.0) Models only, may be NULL: see fivo_dataset_preference. */
    const fivo_dataset_preference *dataset_preferences;
    size_t num_dataset_preferences;
    /* (2.0) OPTIONAL, may be NULL (LV2's extension_data): the plugin's data
     * for an extension the core does not know, named by a URI-like string
     * ("fivo.ext.NAME"); NULL when unsupported. MUST return static storage. */
    const void *(*extension_data)(const char *uri);
} fivo_plugin_descriptor;

/* The options, num_options and option_size fields of a descriptor from one
 * array, in a designated initializer:
 *   {.kind = ..., .vtable = &VTABLE, .vtable_size = sizeof VTABLE,
 *    FIVO_PLUGIN_OPTIONS(OPTIONS)} */
#define FIVO_PLUGIN_OPTIONS(array)                                                          \
    .options = (array), .num_options = sizeof(array) / sizeof((array)[0]),                  \
    .option_size = sizeof((array)[0])

/* The exported query function. The host passes its own ABI so a plugin may
 * adapt; the plugin MUST return a pointer to static storage (never freed)
 * and MUST NOT return NULL unless it cannot serve that host at all. */
typedef const fivo_plugin_descriptor *(*fivo_plugin_query_fn)(uint32_t host_abi_major,
                                                              uint32_t host_abi_minor);

/* Defines the exported query function of a plugin that serves every host
 * the same static descriptor: FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR) at file
 * scope. A plugin that adapts to the host's ABI writes its own. */
#define FIVO_PLUGIN_DEFINE_QUERY(descriptor)                                        \
    FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major, \
                                                                uint32_t host_abi_minor) \
    {                                                                               \
        (void)host_abi_major;                                                       \
        (void)host_abi_minor;                                                       \
        return &(descriptor);                                                       \
    }

/* The fields of an opened plugin instance (fivo_model, fivo_bound,
 * fivo_resampler, fivo_dataset: one layout, the vtable typed by kind), filled
 * by fivo_<kind>_open and zeroed by fivo_<kind>_close:
 *   vt, vt_size     the plugin's vtable and its declared size
 *   self            what the plugin's create (dataset: open) made
 *   name            the plugin's name (static storage of the plugin)
 *   extension_data  (2.0) the descriptor's extension_data, or NULL: what the
 *                   core does not know, e.g. a model's features for a bound
 *   struct_size     (2.2) sizeof the instance struct as libfivo was built
 *                   (see "Growing structs" above) */
#define FIVO_PLUGIN_INSTANCE_FIELDS(vtable_type)                                             \
    const vtable_type *vt;                                                                   \
    size_t vt_size;                                                                          \
    void *self;                                                                              \
    const char *name;                                                                        \
    const void *(*extension_data)(const char *uri);                                          \
    size_t struct_size

/* True when struct *p (one of the growing structs above) has `field`, a
 * field appended after struct_size, in the bytes its writer declared. */
#define FIVO_STRUCT_HAS(p, type, field) \
    ((p)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* Bytes of a growing struct up to and including struct_size: what every
 * writer of ABI 2.2 or later has (the struct_size the host assumes for 0). */
#define FIVO_STRUCT_SIZE_2_2(type) (offsetof(type, struct_size) + sizeof(size_t))

/* True when a vtable of declared size `size` contains `slot` and it is set. */
#define FIVO_VTABLE_HAS(vt, size, type, slot)                                  \
    ((vt) != NULL && offsetof(type, slot) + sizeof(((type *)0)->slot) <= (size) && \
     (vt)->slot != NULL)

#ifdef __cplusplus
}
#endif
#endif
