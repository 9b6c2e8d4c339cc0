/* The table of plugin kinds (see fivo/plugin_kinds.h). */
#include <string.h>

#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/internal/plugin_kinds.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/internal/registry.h>

#define SLOT(type, slot) {#slot, offsetof(type, slot), sizeof(((type *)0)->slot)}
#define ONE(type, slot) {{SLOT(type, slot)}}
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
    {{SLOT(fivo_resampler_vtable, resample), SLOT(fivo_resampler_vtable, resample_relaxed),
      SLOT(fivo_resampler_vtable, resample_weighted),
      SLOT(fivo_resampler_vtable, resample_transport)}},
};
static const fivo_slot DATASET_SLOTS[] = {
    ONE(fivo_dataset_vtable, open), ONE(fivo_dataset_vtable, close),
    ONE(fivo_dataset_vtable, info), ONE(fivo_dataset_vtable, batch),
};

/* Each kind's create (or open) slot, called with the open call's arguments. */
static fivo_status model_create(const void *vt, const fivo_plugin_open_args *a, void **self,
                                fivo_error *err)
{
    return ((const fivo_model_vtable *)vt)->create(a->cfg, a->spec, a->params, self, err);
}

static fivo_status bound_create(const void *vt, const fivo_plugin_open_args *a, void **self,
                                fivo_error *err)
{
    return ((const fivo_bound_vtable *)vt)->create(a->cfg, self, err);
}

static fivo_status resampler_create(const void *vt, const fivo_plugin_open_args *a, void **self,
                                    fivo_error *err)
{
    return ((const fivo_resampler_vtable *)vt)->create(a->cfg, self, err);
}

static fivo_status dataset_open(const void *vt, const fivo_plugin_open_args *a, void **self,
                                fivo_error *err)
{
    return ((const fivo_dataset_vtable *)vt)->open(a->cfg, a->path, a->split, self, err);
}

/* `last` is the slot that frees an instance (destroy, or close): the
 * minimum vtable covers it. */
#define ROW(k, nm, help, type, last, min_text, slots, create_fn)                              \
    {k,     nm,           nm,         help, END_OF(type, last), min_text, slots,             \
     sizeof slots / sizeof slots[0], create_fn, SLOT(type, last)}

static const fivo_plugin_kind_info KINDS[] = {
    ROW(FIVO_PLUGIN_MODEL, "model", "`plugin` names the model; other keys are its options",
        fivo_model_vtable, destroy, "create and destroy", MODEL_SLOTS, model_create),
    ROW(FIVO_PLUGIN_BOUND, "bound", "`plugin` names the bound; other keys are its options",
        fivo_bound_vtable, destroy, "create and destroy", BOUND_SLOTS, bound_create),
    ROW(FIVO_PLUGIN_RESAMPLER, "resampler",
        "`plugin` names the resampler; other keys are its options", fivo_resampler_vtable,
        destroy, "create and destroy", RESAMPLER_SLOTS, resampler_create),
    ROW(FIVO_PLUGIN_DATASET, "dataset",
        "`plugin` names the dataset reader; `path` and `split` are the host's, other keys its "
        "options",
        fivo_dataset_vtable, close, "open and close", DATASET_SLOTS, dataset_open),
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
    for (int i = 0; i < FIVO_SLOT_MAX_ALTERNATIVES && s->any_of[i].name != NULL; i++)
        if (has_slot(vtable, size, s->any_of[i].offset, s->any_of[i].size))
            return true;
    return false;
}

const char *fivo_plugin_kind_name(fivo_plugin_kind kind)
{
    const fivo_plugin_kind_info *k = fivo_plugin_kind_lookup((unsigned)kind);
    return k != NULL ? k->name : "unknown";
}
