/* --mode=eval: placeholder until the real mode lands. It resolves the
 * plugins the mode needs and says which one is missing; with all present it
 * says the mode is not built yet. Either way it exits non-zero. */
#include <stdio.h>

#include "modes.h"

int fivo_host_run_eval(fivo_host *h)
{
    static const fivo_plugin_kind needs[] = {FIVO_PLUGIN_DATASET, FIVO_PLUGIN_MODEL, FIVO_PLUGIN_BOUND, FIVO_PLUGIN_RESAMPLER};
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (fivo_host_require_plugin(h, needs[i]) == NULL)
            return 1;
    fprintf(stderr, "fivo: error: --mode=eval is not built yet\n");
    return 1;
}
