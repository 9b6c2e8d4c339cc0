/* The table of plugin kinds (see fivo/plugin_kinds.h). */
#include <string.h>

#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/plugin_kinds.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/registry.h>

#define SLOT(type, slot) #slot, offsetof(type, slot), sizeof(((type *)0)->slot)
#define ONE(type, slot) {SLOT(type, slot), NULL, 0, 0}
#define EITHER(type, a, b) {SLOT(type, a), SLOT(type, b)}
#define END_OF(type, slot) (offsetof(type, slot) + sizeof(((type *)0)->slot))

static const fivo_slot MODEL_SLOTS[] = {
    ONE(fivo_model_vtable, create),           ONE(fivo_model_vtable, destroy),
    ONE(fivo_model_vtable, set_observations), ONE(fivo_model_vtable, zero_state),
    ONE(fivo_model_vtable, propose_and_weight),
};
static const fivo_slot BOUND_SLOTS[] = {
    ONE(fivo_bound_vtable, create), ONE(fivo_bound_vtable, destroy),
    ONE(fivo_bound_vtable, compute),
};
static const fivo_slot RESAMPLER_SLOTS[] = {
    ONE(fivo_resampler_vtable, create), ONE(fivo_resampler_vtable, destroy),
    EITHER(fivo_resampler_vtable, resample, resample_relaxed),
};
static const fivo_slot DATASET_SLOTS[] = {
    ONE(fivo_dataset_vtable, open), ONE(fivo_dataset_vtable, close),
    ONE(fivo_dataset_vtable, info), ONE(fivo_dataset_vtable, batch),
};

#define ROW(k, nm, help, type, last, min_text, slots)                                        \
    {k, nm, nm, help, END_OF(type, last), min_text, slots, sizeof slots / sizeof slots[0]}

static const fivo_plugin_kind_info KINDS[] = {
    ROW(FIVO_PLUGIN_MODEL, "model", "`plugin` names the model; other keys are its options",
        fivo_model_vtable, destroy, "create and destroy", MODEL_SLOTS),
    ROW(FIVO_PLUGIN_BOUND, "bound", "`plugin` names the bound; other keys are its options",
        fivo_bound_vtable, destroy, "create and destroy", BOUND_SLOTS),
    ROW(FIVO_PLUGIN_RESAMPLER, "resampler",
        "`plugin` names the resampler; other keys are its options", fivo_resampler_vtable,
        destroy, "create and destroy", RESAMPLER_SLOTS),
    ROW(FIVO_PLUGIN_DATASET, "dataset",
        "`plugin` names the dataset reader; `path` and `split` are the host's, other keys its "
        "options",
        fivo_dataset_vtable, close, "open and close", DATASET_SLOTS),
};

const fivo_plugin_kind_info *fivo_plugin_kinds(size_t *n)
{
    *n = sizeof KINDS / sizeof KINDS[0];
    return KINDS;
}

const fivo_plugin_kind_info *fivo_plugin_kind_lookup(unsigned kind)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if ((unsigned)KINDS[i].kind == kind)
            return &KINDS[i];
    return NULL;
}

const fivo_plugin_kind_info *fivo_plugin_kind_by_section(const char *section)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].section, section) == 0)
            return &KINDS[i];
    return NULL;
}

static bool has_slot(const void *vtable, size_t size, size_t offset, size_t slot_size)
{
    if (vtable == NULL || offset + slot_size > size)
        return false;
    void (*fn)(void) = NULL;
    memcpy(&fn, (const char *)vtable + offset, sizeof fn); /* every slot is a function pointer */
    return fn != NULL;
}

bool fivo_slot_present(const void *vtable, size_t size, const fivo_slot *s)
{
    return has_slot(vtable, size, s->offset, s->size) ||
           (s->alt_name != NULL && has_slot(vtable, size, s->alt_offset, s->alt_size));
}

const char *fivo_plugin_kind_name(fivo_plugin_kind kind)
{
    const fivo_plugin_kind_info *k = fivo_plugin_kind_lookup((unsigned)kind);
    return k != NULL ? k->name : "unknown";
}
