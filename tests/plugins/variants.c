/* Broken plugins, one per compile definition, each refused differently. */
#include <stdlib.h>

#include <fivo/abi.h>
#include <fivo/plugin_model.h>

static fivo_status v_create(const fivo_config *cfg, const fivo_data_spec *spec,
                            fivo_params *params, void **self, fivo_error *err)
{
    (void)cfg, (void)spec, (void)params, (void)err;
    *self = NULL;
    return FIVO_OK;
}

static void v_destroy(void *self)
{
    (void)self;
}

static const fivo_model_vtable vtable = {.create = v_create, .destroy = v_destroy};

static const fivo_plugin_descriptor descriptor = {
#if defined(TP_WRONG_ABI)
    .abi_major = FIVO_ABI_MAJOR + 1, .abi_minor = 0, .kind = FIVO_PLUGIN_MODEL, .name = "wrong_abi_model",
#elif defined(TP_BAD_KIND)
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = FIVO_ABI_MINOR, .kind = 7, .name = "bad_kind",
#else
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = FIVO_ABI_MINOR, .kind = FIVO_PLUGIN_MODEL,
    .name = "variant_model",
#endif
    .version = "0.0.0",
    .description = "a broken plugin",
    .vtable = &vtable,
#if defined(TP_TINY_VTABLE)
    .vtable_size = sizeof(void (*)(void)), /* only create: below the v1 minimum */
#else
    .vtable_size = sizeof vtable,
#endif
};

#if defined(TP_MISSING_SYMBOL)
/* Exports a function, just not the one the host asks for. */
FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query_v0(void)
{
    return &descriptor;
}
#elif defined(TP_NULL_DESCRIPTOR)
FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    /* Refuses to serve any host (the descriptor exists but is withheld). */
    return major == 0 && minor == 0 ? &descriptor : NULL;
}
#elif defined(TP_UNRESOLVED)
/* A real ELF module that cannot load: it needs a variable nothing defines
 * (data relocations are resolved at load time, even lazily). */
extern int fivo_test_no_such_variable;
FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return fivo_test_no_such_variable ? &descriptor : NULL;
}
#else
FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
#endif
