/* A dataset plugin as built against the ABI 2.0 headers (tests/abi_2_0/
 * include, no struct_size anywhere): two sequences of lengths 3 and 2, dim 1,
 * x_t = 10 * seq + t. It calls nothing in libfivo, so it links nothing. */
#include <fivo/plugin_dataset.h>

#include <stdlib.h>
#include <string.h>

#if FIVO_ABI_MAJOR != 2 || FIVO_ABI_MINOR != 0
#error "built against the wrong headers: this fixture is for ABI 2.0"
#endif

enum { T = 3, B = 2 };

typedef struct ds {
    float inputs[T * B], targets[T * B];
    int32_t lengths[B], ids[B];
} ds;

static fivo_status ds_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    (void)cfg, (void)path, (void)split, (void)err;
    ds *d = calloc(1, sizeof *d);
    if (d == NULL)
        return FIVO_ERR_NOMEM;
    d->lengths[0] = 3;
    d->lengths[1] = 2;
    for (int b = 0; b < B; b++) {
        d->ids[b] = b;
        for (int t = 0; t < d->lengths[b]; t++) {
            d->targets[t * B + b] = (float)(10 * b + t);
            if (t + 1 < d->lengths[b])
                d->inputs[(t + 1) * B + b] = (float)(10 * b + t);
        }
    }
    *self = d;
    return FIVO_OK;
}

static void ds_close(void *self) { free(self); }

static fivo_status ds_info(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)self, (void)err;
    /* The whole 2.0 struct, as a plugin of that time would write it. */
    fivo_dataset_info in = {1, "real", B, 2, 3, 2.5, 5, NULL};
    *out = in;
    return FIVO_OK;
}

static fivo_status ds_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    (void)batch_size, (void)shuffle, (void)seed, (void)err;
    ds *d = self;
    if (index > 0)
        return FIVO_END;
    fivo_batch b = {T, B, 1, d->inputs, d->targets, d->lengths, d->ids};
    *out = b;
    return FIVO_OK;
}

static const fivo_dataset_vtable VT = {
    .open = ds_open, .close = ds_close, .info = ds_info, .batch = ds_batch};

static const fivo_plugin_descriptor DESC = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_DATASET,
    .name = "abi_2_0_dataset",
    .version = "2.0.0",
    .description = "a dataset built against the ABI 2.0 headers",
    .vtable = &VT,
    .vtable_size = sizeof VT,
};

FIVO_PLUGIN_DEFINE_QUERY(DESC)
