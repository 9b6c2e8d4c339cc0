/* A resampler plugin built for a NEWER minor of the same major: its vtable is
 * today's fivo_resampler_vtable plus one slot appended at the end, which this
 * host does not know. It loads; the host uses only the slots it knows.
 * resample() returns ancestors reversed (n-1-i) so a test can see it ran. */
#include <fivo/fivo.h>

typedef struct newer_resampler_vtable {
    fivo_resampler_vtable known; /* today's layout, unchanged: slots only grow at the end */
    int (*future_slot)(void *self);
} newer_resampler_vtable;

static int self_token;

static fivo_status newer_create(const fivo_config *cfg, void **self, fivo_error *err)
{
    (void)cfg, (void)err;
    *self = &self_token; /* static: nothing to free */
    return FIVO_OK;
}

static void newer_destroy(void *self) { (void)self; }

static fivo_status newer_resample(void *self, const double *log_w, int n, const fivo_rng *rng,
                                  uint32_t row, int32_t *ancestors, fivo_error *err)
{
    (void)self, (void)log_w, (void)rng, (void)row, (void)err;
    for (int i = 0; i < n; i++)
        ancestors[i] = n - 1 - i;
    return FIVO_OK;
}

static int newer_future(void *self)
{
    (void)self;
    return 42;
}

static const newer_resampler_vtable vtable = {
    .known = {.create = newer_create, .destroy = newer_destroy, .resample = newer_resample},
    .future_slot = newer_future,
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR + 1u,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "abi_new_minor",
    .version = "0.0.1",
    .description = "test: resampler built for a newer minor ABI with one extra vtable slot",
    .vtable = &vtable,
    .vtable_size = sizeof vtable,
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
