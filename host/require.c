/* Resolving the plugin a config section names, with a useful message when
 * it is not there. */
#include <stdio.h>
#include <stdlib.h>

#include "modes.h"
#include <fivo/internal/registry.h>

const fivo_plugin_info *fivo_host_require_plugin(fivo_host *h, fivo_plugin_kind kind)
{
    const char *section = fivo_plugin_kind_name(kind);
    const char *name = NULL;
    fivo_config_get_string(h->cfg, section, "plugin", NULL, &name, NULL);
    if (name == NULL) {
        fprintf(stderr, "fivo: error: no %s plugin chosen: set [%s] plugin\n", section, section);
        return NULL;
    }
    const fivo_plugin_info *info = fivo_registry_find(h->reg, kind, name);
    if (info != NULL)
        return info;
    char *avail = fivo_registry_names(h->reg, kind);
    const char *origin = fivo_config_origin(h->cfg, section, "plugin");
    fprintf(stderr, "fivo: error: missing %s plugin '%s' (chosen by %s); available %s plugins: %s\n",
            section, name, origin != NULL ? origin : "config", section, avail);
    free(avail);
    fprintf(stderr, "fivo: searched:");
    const char *const *dirs = fivo_registry_search_dirs(h->reg);
    for (int i = 0; dirs[i] != NULL; i++)
        fprintf(stderr, " %s", dirs[i]);
    fprintf(stderr, "\nfivo: run `fivo plugins` to see every plugin found and any refused\n");
    return NULL;
}
