/* A dataset plugin for registry tests: one empty split; records the path
 * and split it was opened with so the test can check they arrived. */
#include <stdlib.h>
#include <string.h>

#include <fivo/abi.h>
#include <fivo/plugin_dataset.h>

typedef struct td {
    char split[32];
} td;

static fivo_status td_open(const fivo_config *cfg, const char *path, const char *split,
                           void **self, fivo_error *err)
{
    (void)cfg;
    if (path == NULL || strcmp(path, "/nonexistent") == 0)
        return fivo_error_set(err, FIVO_ERR_IO, "%s: no such dataset", path ? path : "(null)");
    td *d = calloc(1, sizeof *d);
    if (d == NULL)
        return FIVO_ERR_NOMEM;
    strncpy(d->split, split != NULL ? split : "", sizeof d->split - 1);
    *self = d;
    return FIVO_OK;
}

static void td_close(void *self)
{
    free(self);
}

static fivo_status td_info(void *self, fivo_dataset_info *out, fivo_error *err)
{
    (void)self, (void)err;
    memset(out, 0, sizeof *out);
    out->dim = 3;
    out->kind = "real";
    return FIVO_OK;
}

static fivo_status td_batch(void *self, int batch_size, bool shuffle, uint64_t seed,
                            uint64_t index, fivo_batch *out, fivo_error *err)
{
    (void)self, (void)batch_size, (void)shuffle, (void)seed, (void)index, (void)out, (void)err;
    return FIVO_END;
}

static const fivo_dataset_vtable vtable = {
    .open = td_open, .close = td_close, .info = td_info, .batch = td_batch, .convert = NULL};

static const fivo_option options[] = {
    {"test_dataset_option", FIVO_OPTION_BOOL, "false", "a bool option", NULL, NULL, NULL},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR, .abi_minor = FIVO_ABI_MINOR, .kind = FIVO_PLUGIN_DATASET,
    .name = "test_dataset", .version = "0.1.0", .description = "empty dataset",
    .vtable = &vtable, .vtable_size = sizeof vtable, .options = options, .num_options = 1, .option_size = sizeof options[0],
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor)
{
    (void)major, (void)minor;
    return &descriptor;
}
