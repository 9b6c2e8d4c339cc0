/* A model plugin built for an older major ABI (FIVO_ABI_MAJOR - 1u): the host MUST refuse it
 * with a message naming the file and both ABI versions, and never read its
 * vtable (which here is deliberately not a fivo_model_vtable at all). */
#include <fivo/fivo.h>

static const int not_a_vtable[2] = {0x7e, 0x7f};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR - 1u,
    .abi_minor = 3,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "abi_old_major",
    .version = "9.9.9",
    .description = "test: model built for an older major ABI",
    .vtable = not_a_vtable,
    .vtable_size = sizeof not_a_vtable,
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
