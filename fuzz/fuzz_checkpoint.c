/* libFuzzer target: the checkpoint reader on an arbitrary file: verify
 * (header, records, end marker, checksums; skipped CRC comparisons in the
 * fuzzing build) and load into a small model's parameters and Adam state
 * (names, shapes, kinds, non-finite values). */
#include "fuzz_util.h"

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/optim.h>
#include <fivo/params.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fivo_params *g_params;
static fivo_adam *g_adam;

/* The same names and shapes as the seed generator (fuzz/seeds.c) writes. */
static void setup(void)
{
    g_params = fivo_params_new(1);
    fivo_params_add(g_params, "m/w", 3, 2, FIVO_INIT_ZEROS, NULL);
    fivo_params_add(g_params, "m/b", 1, 2, FIVO_INIT_ZEROS, NULL);
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    o.learning_rate = 1e-3;
    g_adam = fivo_adam_new(g_params, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_params == NULL)
        setup();
    const char *path = fuzz_write_scratch("checkpoint", data, size);
    fivo_checkpoint_meta meta;
    fivo_error err = {0};
    if (fivo_checkpoint_verify(path, &meta, &err) != FIVO_OK)
        return 0;
    (void)fivo_checkpoint_load(path, g_params, g_adam, &meta, &err);
    (void)fivo_checkpoint_load(path, g_params, NULL, &meta, &err);
    return 0;
}
