/* fivo plugin ABI: the descriptor every plugin module exports.
 *
 * One loadable module = one plugin. It exports exactly one C symbol,
 * FIVO_PLUGIN_QUERY_SYMBOL, of type fivo_plugin_query_fn. The host calls it
 * once after loading and reads the descriptor it returns.
 *
 * Versioning (SQLite VFS / LV2 style):
 *  - FIVO_ABI_MAJOR changes when any existing layout or meaning changes.
 *    The host refuses a plugin whose abi_major differs from its own.
 *  - FIVO_ABI_MINOR grows when a slot is appended to a vtable. Vtables only
 *    grow at the end; the host reads a slot only when the plugin's declared
 *    vtable_size covers it (FIVO_VTABLE_HAS), so a plugin built for an older
 *    minor loads fine and its missing slots count as absent.
 */
#ifndef FIVO_ABI_H
#define FIVO_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FIVO_ABI_MAJOR 1u
#define FIVO_ABI_MINOR 0u

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

/* One key a plugin reads from its config section. The host uses the list to
 * reject unknown keys (with a suggestion) and to print --help. */
typedef struct fivo_option {
    const char *key;           /* MUST be non-NULL, snake_case */
    fivo_option_type type;
    const char *default_value; /* textual default, or NULL when none */
    const char *help;          /* one line */
} fivo_option;

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
} fivo_plugin_descriptor;

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

/* True when a vtable of declared size `size` contains `slot` and it is set. */
#define FIVO_VTABLE_HAS(vt, size, type, slot)                                  \
    ((vt) != NULL && offsetof(type, slot) + sizeof(((type *)0)->slot) <= (size) && \
     (vt)->slot != NULL)

#ifdef __cplusplus
}
#endif
#endif
