/* libFuzzer target: the pianoroll dataset plugin end to end (pickle VM,
 * split lookup, note conversion, train mean, batching) through its own
 * descriptor, as the host would drive it, on an arbitrary file. */
#include "fuzz_util.h"

#include <fivo/plugin_dataset.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by pianoroll.c (FIVO_PLUGIN_DEFINE_QUERY), linked in. */
const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fivo_dataset_vtable *vt;
    if (vt == NULL)
        vt = fivo_plugin_query(FIVO_ABI_MAJOR, FIVO_ABI_MINOR)->vtable;
    const char *path = fuzz_write_scratch("pianoroll", data, size);
    static const char *const splits[] = {"train", "valid", "test"};
    const char *split = splits[size % 3];
    void *self = NULL;
    fivo_error err = {0};
    if (vt->open(NULL, path, split, &self, &err) != FIVO_OK)
        return 0;
    fivo_dataset_info info;
    if (vt->info(self, &info, &err) == FIVO_OK) {
        for (uint64_t i = 0; i < 3; i++) {
            fivo_batch b;
            if (vt->batch(self, 2, i == 2, 7, i, &b, &err) != FIVO_OK)
                break;
        }
    }
    vt->close(self);
    return 0;
}
