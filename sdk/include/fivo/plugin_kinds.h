/* The one table of plugin kinds: name, config section, the slots a vtable
 * must declare to be loaded at all, and the slots it must have to be
 * opened. The registry's checks, open/close, the host's config sections and
 * `--help` all read it, so a new kind is one row. */
#ifndef FIVO_PLUGIN_KINDS_H
#define FIVO_PLUGIN_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include <fivo/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A vtable slot by name and place. `alt_*` (when alt_name is set) names a
 * second slot that may stand in for it: the requirement is one of the two. */
typedef struct fivo_slot {
    const char *name;
    size_t offset, size;
    const char *alt_name;
    size_t alt_offset, alt_size;
} fivo_slot;

typedef struct fivo_plugin_kind_info {
    fivo_plugin_kind kind;
    const char *name;       /* "model", ... (also its config section) */
    const char *section;    /* "[model]" section name: same as name */
    const char *help;       /* one line for --help */
    size_t min_vtable_size; /* shorter vtables are refused at load: they cannot be freed */
    const char *min_slots;  /* what that minimum covers, for the refusal */
    const fivo_slot *required; /* slots fivo_<kind>_open requires */
    size_t num_required;
} fivo_plugin_kind_info;

/* Every kind, in the order of fivo_plugin_kind; *n gets the count. */
const fivo_plugin_kind_info *fivo_plugin_kinds(size_t *n);
/* The row of `kind`, or NULL for an unknown kind. */
const fivo_plugin_kind_info *fivo_plugin_kind_lookup(unsigned kind);
/* The row whose section is `section`, or NULL. */
const fivo_plugin_kind_info *fivo_plugin_kind_by_section(const char *section);
/* True when slot `s` (or its alternative) is present in a vtable of `size` bytes. */
bool fivo_slot_present(const void *vtable, size_t size, const fivo_slot *s);

#ifdef __cplusplus
}
#endif
#endif
