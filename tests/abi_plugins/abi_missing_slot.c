/* A model plugin whose vtable is too short to hold a REQUIRED slot
 * (propose_and_weight): it loads, but opening it is FIVO_ERR_ABI naming the
 * plugin and the slot, never a call through a pointer that is not there. */
#include <fivo/fivo.h>

#include <stdlib.h>

typedef struct short_model_vtable {
    fivo_status (*create)(const fivo_config *, const fivo_data_spec *, fivo_params *, void **,
                          fivo_error *);
    void (*destroy)(void *);
    fivo_status (*set_observations)(void *, fivo_ctx *, const fivo_batch *, int, fivo_error *);
    fivo_status (*zero_state)(void *, fivo_ctx *, int, fivo_state *, fivo_error *);
} short_model_vtable;

static fivo_status short_create(const fivo_config *cfg, const fivo_data_spec *spec,
                                fivo_params *params, void **self, fivo_error *err)
{
    (void)cfg, (void)spec, (void)params, (void)err;
    *self = malloc(16);
    return *self != NULL ? FIVO_OK : FIVO_ERR_NOMEM;
}

static void short_destroy(void *self) { free(self); }

static fivo_status short_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                          int n, fivo_error *err)
{
    (void)self, (void)ctx, (void)batch, (void)n, (void)err;
    return FIVO_OK;
}

static fivo_status short_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                    fivo_error *err)
{
    (void)self, (void)ctx, (void)rows, (void)err;
    out->count = 0;
    return FIVO_OK;
}

static const int junk_target = 1;
static const struct {
    short_model_vtable vt;
    const void *junk[4]; /* a size-blind host would call this as propose_and_weight */
} short_vtable = {
    {short_create, short_destroy, short_set_observations, short_zero_state},
    {&junk_target, &junk_target, &junk_target, &junk_target},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = 0,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "abi_missing_slot",
    .version = "0.0.1",
    .description = "test: model whose vtable ends before the required propose_and_weight",
    .vtable = &short_vtable.vt,
    .vtable_size = sizeof(short_model_vtable),
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
