/* The one table of plugin kinds: name, config section, the slots a vtable
 * must declare to be loaded at all, and the slots it must have to be
 * opened, how to call its create and destroy. The registry's checks,
 * open/close, the host's config sections and `--help` all read it, so a new
 * kind is one row (plus its typed fivo_<kind>_open/close, one line each). */
#ifndef FIVO_PLUGIN_KINDS_H
#define FIVO_PLUGIN_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include <fivo/abi.h>
#include <fivo/config.h>
#include <fivo/error.h>
#include <fivo/params.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A required vtable slot: one place, or several that may stand in for each
 * other (a resampler needs one of its resampling slots). Unused entries of
 * any_of have a NULL name. */
#define FIVO_SLOT_MAX_ALTERNATIVES 4
typedef struct fivo_slot_place {
    const char *name;
    size_t offset, size;
} fivo_slot_place;

typedef struct fivo_slot {
    fivo_slot_place any_of[FIVO_SLOT_MAX_ALTERNATIVES];
} fivo_slot;

/* What fivo_<kind>_open passes on to the kind's create (dataset: open)
 * slot; each kind reads its own fields. */
typedef struct fivo_plugin_open_args {
    const fivo_config *cfg;
    const struct fivo_data_spec *spec; /* model */
    fivo_params *params;               /* model */
    const char *path, *split;          /* dataset */
} fivo_plugin_open_args;

typedef struct fivo_plugin_kind_info {
    fivo_plugin_kind kind;
    const char *name;       /* "model", ... (also its config section) */
    const char *section;    /* "[model]" section name: same as name */
    const char *help;       /* one line for --help */
    size_t min_vtable_size; /* shorter vtables are refused at load: they cannot be freed */
    const char *min_slots;  /* what that minimum covers, for the refusal */
    const fivo_slot *required; /* slots fivo_<kind>_open requires */
    size_t num_required;
    /* Calls the create (dataset: open) slot of `vtable` with args. */
    fivo_status (*create)(const void *vtable, const fivo_plugin_open_args *args, void **self,
                          fivo_error *err);
    fivo_slot_place release; /* the destroy (dataset: close) slot, a void (*)(void *self) */
} fivo_plugin_kind_info;

/* Every kind, in the order of fivo_plugin_kind; *n gets the count. */
const fivo_plugin_kind_info *fivo_plugin_kinds(size_t *n);
/* The row of `kind`, or NULL for an unknown kind. */
const fivo_plugin_kind_info *fivo_plugin_kind_lookup(unsigned kind);
/* The row whose section is `section`, or NULL. */
const fivo_plugin_kind_info *fivo_plugin_kind_by_section(const char *section);
/* True when slot `s` (or one of its alternatives) is set in a vtable of `size` bytes. */
bool fivo_slot_present(const void *vtable, size_t size, const fivo_slot *s);

#ifdef __cplusplus
}
#endif
#endif
