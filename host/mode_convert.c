/* --mode=convert: the dataset plugin named by --dataset_type turns raw data
 * into its dataset files (e.g. timit: raw TIMIT -> train/valid/test
 * TFRecords), from [dataset] settings. Its counts and statistics go to
 * metrics.jsonl. The plugin leaves no partial output when it fails. */
#include <stdio.h>

#include <glib.h>

#include "logdir_lock.h"
#include "modes.h"
#include <fivo/internal/metrics.h>
#include <fivo/internal/registry.h>

int fivo_host_run_convert(fivo_host *h)
{
    const fivo_plugin_info *info = fivo_host_require_plugin(h, FIVO_PLUGIN_DATASET);
    if (info == NULL)
        return 1;
    if (!fivo_dataset_can_convert(info)) {
        GString *able = g_string_new(NULL);
        for (int i = 0; i < fivo_registry_count(h->reg); i++) {
            const fivo_plugin_info *p = fivo_registry_at(h->reg, i);
            if (fivo_dataset_can_convert(p))
                g_string_append_printf(able, "%s%s", able->len ? ", " : "", p->name);
        }
        fprintf(stderr, "fivo: error: dataset plugin '%s' (%s) cannot convert raw data; "
                        "dataset plugins that can: %s\n",
                info->name, info->file, able->len ? able->str : "none");
        g_string_free(able, TRUE);
        return 1;
    }
    if (fivo_host_lock_output(h->cfg, "dataset", "out_dir", NULL) != 0) /* one writer */
        return 1;
    fivo_report *r = fivo_report_new("convert");
    fivo_report_set_string(r, "dataset_type", info->name);
    fivo_error err = {0};
    if (fivo_dataset_convert(info, h->cfg, r, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_report_free(r);
        return 1;
    }
    int rc = fivo_host_emit(h, r);
    fivo_report_free(r);
    return rc;
}
