/* fivo --mode=sample: conditions the model on a prefix of prefix_length
 * steps of a batch with the configured bound, then samples sample_length
 * steps from num_samples particles per prefix, as the reference's
 * run_sample does. Writes <logdir>/samples.npz with
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
    float *pin = NULL, *ptg = NULL, *samples = NULL;
    int32_t *plen = NULL;
    fivo_progress *prog = NULL;
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
    pin = calloc((size_t)P * step_floats, sizeof(float));
    ptg = calloc((size_t)P * step_floats, sizeof(float));
    plen = malloc(sizeof(int32_t) * (size_t)B);
    samples = calloc((size_t)L * (size_t)N * step_floats, sizeof(float));
    if (!pin || !ptg || !plen || !samples) {
        fivo_log_error("sample: out of memory");
        goto free_out;
    }
    /* The prefix: the first P steps of every sequence (zero past its end,
     * as the reference's slice of the padded batch). */
    for (int t = 0; t < P && t < full.max_len; t++) {
        memcpy(pin + (size_t)t * step_floats, full.inputs + (size_t)t * step_floats,
               step_floats * sizeof(float));
        memcpy(ptg + (size_t)t * step_floats, full.targets + (size_t)t * step_floats,
               step_floats * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        plen[b] = P;
    fivo_batch prefix = {.max_len = P, .batch_size = B, .dim = D, .inputs = pin, .targets = ptg,
                         .lengths = plen, .seq_ids = full.seq_ids};

    fivo_ctx_reset(s.ctx);
    fivo_ctx_set_grad_enabled(s.ctx, false);
    /* The sampling domain: apart from every training and eval stream. */
    fivo_ctx_set_seed(s.ctx, (uint64_t)seed, FIVO_RNG_DOMAIN_SAMPLE);
    fivo_smc_result res;
    memset(&res, 0, sizeof res);
    if (fivo_bound_compute(&s.bound, s.ctx, &s.model, &s.resampler, &prefix, N, &res,
                            &err) != FIVO_OK) {
        rc = fail("conditioning on the prefix", &err);
        goto free_out;
    }
    /* The bound may have used fewer particles (ELBO: one); tile its final
     * particles up to N per sequence. */
    fivo_state state = res.final_state;
    int rows = state.t[0]->rows;
    if (rows != N * B) {
        int have = rows / B;
        int32_t *idx = fivo_ctx_alloc(s.ctx, sizeof(int32_t) * (size_t)N * (size_t)B);
        if (!idx || have <= 0) {
            fivo_log_error("sample: the bound's final state has %d rows for %d sequences", rows,
                           B);
            goto free_out;
        }
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                idx[p * B + b] = (p % have) * B + b;
        for (int k = 0; k < state.count; k++)
            state.t[k] = fivo_gather_rows(s.ctx, state.t[k], idx, N * B);
    }
    prog = fivo_progress_start("sample", "steps", 0, L);
    for (int l = 0; l < L; l++) {
        fivo_progress_update(prog, l, NULL);
        fivo_tensor *x;
        if (fivo_model_sample_step(&s.model, s.ctx, &state, P + l, &state, &x, &err) !=
            FIVO_OK) {
            rc = fail("sampling", &err);
            goto free_out;
        }
        /* Row p * B + b -> samples[l, b, p, :]. */
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                memcpy(samples + (((size_t)l * B + b) * N + p) * D,
                       fivo_tensor_row(x, p * B + b), sizeof(float) * (size_t)D);
    }
    fivo_progress_finish(prog);
    prog = NULL;
    if (fivo_ctx_status(s.ctx, &err) != FIVO_OK) {
        rc = fail("sampling", &err);
        goto free_out;
    }
    {
        const char *out_dir = h->set.sample_out_dir;
        if (!out_dir)
            out_dir = h->logdir;
        size_t n = strlen(out_dir) + 32;
        char *out_path = malloc(n);
        if (!out_path)
            goto free_out;
        snprintf(out_path, n, "%s/samples.npz", out_dir);
        fivo_npz_array arrays[2] = {
            {.name = "prefixes", .ndim = 3, .shape = {P, B, D}, .data = ptg},
            {.name = "samples", .ndim = 4, .shape = {L, B, N, D}, .data = samples},
        };
        if (fivo_npz_write(out_path, arrays, 2, &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: sample: writing samples from the checkpoint of step "
                            "%llu: %s\n", (unsigned long long)meta.step, err.message);
            rc = 1;
            free(out_path);
            goto free_out;
        }
        if (fivo_host_write_sample_media(&s, out_dir, ptg, samples, P, L, B, N, D) != 0) {
            free(out_path);
            goto free_out;
        }
        fivo_report *r = fivo_report_new("sample");
        if (r) {
            fivo_report_set_string(r, "file", out_path);
            fivo_report_set_string(r, "split", split);
            fivo_report_set_int(r, "checkpoint_step", (int64_t)meta.step);
            fivo_report_set_int(r, "prefix_length", P);
            fivo_report_set_int(r, "sample_length", L);
            fivo_report_set_int(r, "batch_size", B);
            fivo_report_set_int(r, "num_samples", N);
            fivo_report_set_int(r, "dim", D);
            rc = fivo_host_emit(h, r); /* a metrics write failure fails the mode */
            fivo_report_free(r);
        } else {
            rc = 0;
        }
        free(out_path);
    }
free_out:
out:
    fivo_progress_finish(prog);
    free(pin);
    free(ptg);
    free(plen);
    free(samples);
    fivo_session_close(&s);
    return rc;
}
