/* --mode=inspect: opens each split of --dataset_path with the dataset
 * plugin (all of train, valid and test unless --split was given) and
 * reports its sequence count, lengths, data dimension, the train mean the
 * model would be given, and the mean and standard deviation of the data
 * itself (accumulated in double over every timestep in one pass). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modes.h"
#include <fivo/internal/metrics.h>
#include <fivo/internal/registry.h>

/* Reports one split. A split that is not found is only noted when `absent`
 * is given (all splits were asked for): *absent is then set. */
static int inspect_split(fivo_host *h, const fivo_plugin_info *info, const char *path,
                         const char *split, bool *absent)
{
    fivo_dataset ds;
    fivo_error err = {0};
    fivo_status st = fivo_dataset_open(h->reg, info->name, h->cfg, path, split, &ds, &err);
    if (st == FIVO_ERR_NOT_FOUND && absent != NULL) {
        printf("%s: absent (%s)\n", split, err.message);
        *absent = true;
        return 0;
    }
    if (st != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    fivo_dataset_info in;
    if (fivo_dataset_get_info(&ds, &in, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_dataset_close(&ds);
        return 1;
    }
    fivo_report *r = fivo_report_new("inspect");
    fivo_report_set_string(r, "dataset_type", info->name);
    fivo_report_set_string(r, "dataset_path", path);
    fivo_report_set_string(r, "split", split);
    fivo_report_set_int(r, "num_sequences", in.num_sequences);
    fivo_report_set_int(r, "dim", in.dim);
    fivo_report_set_string(r, "kind", in.kind != NULL ? in.kind : "");
    fivo_report_set_int(r, "min_len", in.min_len);
    fivo_report_set_number(r, "mean_len", in.mean_len);
    fivo_report_set_int(r, "max_len", in.max_len);
    fivo_report_set_int(r, "total_timesteps", in.total_timesteps);
    if (in.mean != NULL && in.dim > 0) {
        double lo = in.mean[0], hi = in.mean[0], sum = 0.0;
        for (int j = 0; j < in.dim; j++) {
            lo = fmin(lo, in.mean[j]);
            hi = fmax(hi, in.mean[j]);
            sum += in.mean[j];
        }
        fivo_report_set_number(r, "train_mean_min", lo);
        fivo_report_set_number(r, "train_mean_avg", sum / in.dim);
        fivo_report_set_number(r, "train_mean_max", hi);
    }
    /* The data's own statistics, one pass in file order. */
    double s1 = 0.0, s2 = 0.0, n = 0.0;
    fivo_batch b;
    for (uint64_t k = 0;; k++) {
        st = fivo_dataset_read_batch(&ds, 64, false, 0, k, &b, &err);
        if (st == FIVO_END)
            break;
        if (st != FIVO_OK) {
            fprintf(stderr, "fivo: error: %s\n", err.message);
            fivo_report_free(r);
            fivo_dataset_close(&ds);
            return 1;
        }
        for (int i = 0; i < b.batch_size; i++)
            for (int t = 0; t < b.lengths[i]; t++) {
                const float *x = fivo_batch_at(b.targets, &b, t, i);
                for (int j = 0; j < b.dim; j++) {
                    s1 += x[j];
                    s2 += (double)x[j] * x[j];
                }
                n += b.dim;
            }
    }
    if (n > 0) {
        double m = s1 / n;
        fivo_report_set_number(r, "data_mean", m);
        fivo_report_set_number(r, "data_std", sqrt(fmax(s2 / n - m * m, 0.0)));
    }
    int rc = fivo_host_emit(h, r);
    fivo_report_free(r);
    fivo_dataset_close(&ds);
    return rc;
}

int fivo_host_run_inspect(fivo_host *h)
{
    const fivo_plugin_info *info = fivo_host_require_plugin(h, FIVO_PLUGIN_DATASET);
    if (info == NULL)
        return 1;
    const char *path = h->set.dataset_path;
    if (path == NULL) {
        fprintf(stderr, "fivo: error: --mode=inspect needs --dataset_path ([dataset] path)\n");
        return 1;
    }
    const char *split = h->set.split;
    if (fivo_option_is_set(h->cfg, "dataset", "split")) /* else: every split */
        return inspect_split(h, info, path, split, NULL);
    static const char *const splits[] = {"train", "valid", "test"};
    int absent = 0;
    for (int i = 0; i < 3; i++) {
        bool gone = false;
        int rc = inspect_split(h, info, path, splits[i], &gone);
        if (rc != 0)
            return rc;
        absent += gone;
    }
    if (absent == 3) { /* nothing there at all: a wrong path, not a partial dataset */
        fprintf(stderr, "fivo: error: %s: no split of dataset '%s' found there\n", path,
                info->name);
        return 1;
    }
    return 0;
}
