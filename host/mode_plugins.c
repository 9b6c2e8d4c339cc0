/* `fivo plugins`: every plugin found (kind, name, version, ABI, file; with
 * --verbose its options) and every candidate refused, with the reason. */
#include <stdio.h>

#include <glib.h>

#include "flags.h"
#include "modes.h"
#include <fivo/internal/registry.h>

int fivo_host_run_plugins(fivo_host *h)
{
    bool verbose = h->set.verbose;
    printf("fivo plugin ABI %u.%u\nsearched:\n", FIVO_ABI_MAJOR, FIVO_ABI_MINOR);
    const char *const *dirs = fivo_registry_search_dirs(h->reg);
    for (int i = 0; dirs[i] != NULL; i++)
        printf("  %s%s\n", dirs[i], g_file_test(dirs[i], G_FILE_TEST_IS_DIR) ? "" : " (absent)");

    int n = fivo_registry_count(h->reg);
    printf("\n%d plugin%s found:\n", n, n == 1 ? "" : "s");
    if (n > 0)
        printf("  %-10s %-16s %-10s %-6s %s\n", "KIND", "NAME", "VERSION", "ABI", "FILE");
    for (int k = FIVO_PLUGIN_MODEL; k <= FIVO_PLUGIN_DATASET; k++) /* grouped by kind */
        for (int i = 0; i < n; i++) {
            const fivo_plugin_info *p = fivo_registry_at(h->reg, i);
            if ((int)p->kind != k)
                continue;
            char abi[32];
            snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
            printf("  %-10s %-16s %-10s %-6s %s\n", fivo_plugin_kind_name(p->kind), p->name,
                   p->version, abi, p->file);
            if (p->description[0] != '\0')
                printf("  %-10s %s\n", "", p->description);
            if (verbose)
                fivo_host_print_plugin_options(stdout, p, "             ");
        }

    int r = fivo_registry_refused_count(h->reg);
    printf("\n%d candidate%s refused%s\n", r, r == 1 ? "" : "s", r > 0 ? ":" : ".");
    for (int i = 0; i < r; i++)
        printf("  %s\n", fivo_registry_refused_at(h->reg, i)->reason);
    return 0;
}
