/* fivo --mode=sample: conditions the model on a prefix of prefix_length
 * steps of a batch with the configured bound, then samples sample_length
 * steps from num_samples particles per prefix, as the reference's
 * run_sample does (libfivo's fivo/sample_prefix.h). Writes <logdir>/samples.npz with
 *   prefixes [prefix_length, batch_size, D]   (the conditioning targets)
 *   samples  [sample_length, batch_size, num_samples, D],
 * and, when the dataset plugin renders samples (write_sample), one file per
 * prefix and sample in <out_dir>/samples/ (see sample_media.c). */
#include <fivo/internal/comm.h>

#include "logdir_lock.h"
#include "sample_media.h"
#include "session.h"

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/npz.h>
#include <fivo/sample_prefix.h>
#include <fivo/progress.h>
#include <fivo/internal/log.h>
#include <fivo/internal/metrics.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const fivo_error *err)
{
    fprintf(stderr, "fivo: error: sample: %s: %s\n", what, err->message);
    return 1;
}

/* samples.npz (and the dataset's media files) in [sample] out_dir or the
 * logdir, then the report. Returns the exit code. */
static int write_samples(fivo_host *h, fivo_session *s, uint64_t ckpt_step, const float *ptg,
                         const float *samples, int P, int L, int B, int N, int D)
{
    fivo_error err = {0};
    const char *out_dir = h->set.sample_out_dir;
    if (!out_dir)
        out_dir = h->logdir;
    size_t n = strlen(out_dir) + 32;
    char *out_path = malloc(n);
    if (!out_path)
        return 1;
    snprintf(out_path, n, "%s/samples.npz", out_dir);
    fivo_npz_array arrays[2] = {
        {.name = "prefixes", .ndim = 3, .shape = {P, B, D}, .data = ptg},
        {.name = "samples", .ndim = 4, .shape = {L, B, N, D}, .data = samples},
    };
    if (fivo_npz_write(out_path, arrays, 2, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: sample: writing samples from the checkpoint of step "
                        "%llu: %s\n", (unsigned long long)ckpt_step, err.message);
        free(out_path);
        return 1;
    }
    if (fivo_host_write_sample_media(s, out_dir, ptg, samples, P, L, B, N, D) != 0) {
        free(out_path);
        return 1;
    }
    int rc = 0;
    fivo_report *r = fivo_report_new("sample");
    if (r) {
        fivo_report_set_string(r, "file", out_path);
        fivo_report_set_string(r, "split", h->set.split);
        fivo_report_set_int(r, "checkpoint_step", (int64_t)ckpt_step);
        fivo_report_set_int(r, "prefix_length", P);
        fivo_report_set_int(r, "sample_length", L);
        fivo_report_set_int(r, "batch_size", B);
        fivo_report_set_int(r, "num_samples", N);
        fivo_report_set_int(r, "dim", D);
        rc = fivo_host_emit(h, r); /* a metrics write failure fails the mode */
        fivo_report_free(r);
    }
    free(out_path);
    return rc;
}

int fivo_host_run_sample(fivo_host *h)
{
    /* Under mpirun rank 0 alone samples and writes samples.npz. */
    if (fivo_comm_rank() != 0)
        return 0;
    fivo_config *cfg = h->cfg;
    fivo_error err;
    fivo_error_clear(&err);
    /* checked by their rows (>= 1) */
    long prefix_length = h->set.prefix_length, sample_length = h->set.sample_length;
    const char *split = h->set.split, *ckpt = h->set.checkpoint;
    fivo_session s;
    int rc = fivo_session_open(&s, h, split);
    if (rc != 0)
        return rc;
    if (fivo_host_lock_output(cfg, "sample", "out_dir", h->logdir) != 0) { /* one writer */
        fivo_session_close(&s);
        return 1;
    }
    rc = 1;
    fivo_batch full;
    fivo_checkpoint_meta meta;
    char *used = NULL;
    float *ptg = NULL, *samples = NULL;
    long seed = (long)s.seed, batch_size = s.batch_size, num_samples = s.num_samples;
    if (!FIVO_MODEL_HAS(&s.model, sample_step)) {
        fprintf(stderr, "fivo: error: model '%s' cannot sample (no sample_step)\n",
                s.model_name);
        goto out;
    }
    memset(&meta, 0, sizeof meta);
    fivo_status st = ckpt ? fivo_checkpoint_load(ckpt, s.params, NULL, &meta, &err)
                          : fivo_checkpoint_restore_latest(h->logdir, s.params, NULL, &meta, &used,
                                                           &err);
    if (st != FIVO_OK) {
        rc = fail("checkpoint", &err);
        goto out;
    }
    fivo_log_info("sample: restored %s (step %llu)", ckpt ? ckpt : used,
                  (unsigned long long)meta.step);
    free(used);

    /* A shuffled batch from the seed, as the reference samples prefixes
     * from a shuffled, repeated split. */
    if (fivo_dataset_read_batch(&s.dataset, (int)batch_size, true, (uint64_t)seed, 0, &full, &err) !=
        FIVO_OK) {
        rc = fail("dataset batch", &err);
        goto out;
    }
    int B = full.batch_size, D = full.dim, P = (int)prefix_length, L = (int)sample_length;
    int N = (int)num_samples;
    size_t step_floats = (size_t)B * (size_t)D;
    ptg = calloc((size_t)P * step_floats, sizeof(float));
    samples = calloc((size_t)L * (size_t)N * step_floats, sizeof(float));
    if (!ptg || !samples) {
        fivo_log_error("sample: out of memory");
        goto free_out;
    }
    fivo_sample_setup ss = {&s.model, &s.bound, &s.resampler, s.ctx, (uint64_t)seed, N};
    if (fivo_sample_prefix(&ss, &full, P, L, ptg, samples, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: sample: %s\n", err.message);
        goto free_out;
    }
    rc = write_samples(h, &s, meta.step, ptg, samples, P, L, B, N, D);
free_out:
out:
    free(ptg);
    free(samples);
    fivo_session_close(&s);
    return rc;
}
