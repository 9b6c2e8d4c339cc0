/* Samples in the data's own medium: for every prefix b and sample n, the
 * prefix followed by the sampled continuation goes to the dataset plugin's
 * write_sample slot as <out_dir>/samples/prefix<b>_sample<n> (the plugin
 * adds .mid, .wav, ...). The host never knows what a frame is; a dataset
 * without the slot simply has samples.npz only. */
#include "sample_media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <fivo/internal/log.h>

int fivo_host_write_sample_media(fivo_session *s, const char *out_dir, const float *prefixes,
                                 const float *samples, int P, int L, int B, int N, int D)
{
    fivo_dataset *ds = &s->dataset;
    if (!FIVO_DATASET_HAS(ds, write_sample))
        return 0;
    char *dir = g_build_filename(out_dir, "samples", NULL);
    float *frames = malloc(sizeof(float) * (size_t)(P + L) * (size_t)D);
    int rc = 0, written = 0;
    if (frames == NULL || g_mkdir_with_parents(dir, 0755) != 0) {
        fprintf(stderr, "fivo: error: sample: %s: %s\n", dir,
                frames == NULL ? "out of memory" : g_strerror(errno));
        rc = 1;
        goto out;
    }
    for (int b = 0; b < B && rc == 0; b++) {
        for (int n = 0; n < N && rc == 0; n++) {
            /* prefixes [P, B, D], samples [L, B, N, D] -> frames [P + L, D] */
            for (int t = 0; t < P; t++)
                memcpy(frames + (size_t)t * D, prefixes + ((size_t)t * B + b) * D,
                       sizeof(float) * (size_t)D);
            for (int l = 0; l < L; l++)
                memcpy(frames + (size_t)(P + l) * D, samples + (((size_t)l * B + b) * N + n) * D,
                       sizeof(float) * (size_t)D);
            char name[64];
            snprintf(name, sizeof name, "prefix%d_sample%d", b, n);
            char *stem = g_build_filename(dir, name, NULL);
            fivo_error err = {0};
            fivo_status st = fivo_dataset_write_sample(ds, frames, P + L, D, P, stem, &err);
            g_free(stem);
            if (st == FIVO_ERR_UNSUPPORTED) {
                fivo_log_warn("sample: dataset '%s' writes no media: %s", ds->name, err.message);
                goto out;
            }
            if (st != FIVO_OK) {
                fprintf(stderr, "fivo: error: sample: dataset '%s': %s\n", ds->name, err.message);
                rc = 1;
            }
            written++;
        }
    }
    if (rc == 0)
        fivo_log_info("sample: %d files from dataset '%s' in %s", written, ds->name, dir);
out:
    free(frames);
    g_free(dir);
    return rc;
}
