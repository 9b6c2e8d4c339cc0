/* --mode=eval: restores the newest checkpoint in logdir (or [eval]
 * checkpoint) and evaluates ELBO (1 particle), IWAE (num_samples, never
 * resampling) and FIVO (num_samples, resampling when ESS <= threshold * N
 * with the configured resampler) over the whole [dataset] split, per
 * timestep and per sequence, as the reference's run_eval. */
#include "session.h"

#include <fivo/checkpoint.h>

#include <stdio.h>
#include <stdlib.h>

int fivo_host_run_eval(fivo_host *h)
{
    fivo_error err;
    fivo_error_clear(&err);
    const char *split, *ckpt;
    double ess_threshold;
    const char *crit_text;
    if (fivo_config_string_or(h->cfg, "dataset", "split", "train", &split, &err) ||
        fivo_config_string_or(h->cfg, "eval", "checkpoint", NULL, &ckpt, &err) ||
        fivo_config_double_or(h->cfg, "bound", "ess_threshold", 0.5, &ess_threshold, &err) ||
        fivo_config_string_or(h->cfg, "bound", "resampling_criterion", "ess", &crit_text, &err)) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    fivo_criterion crit;
    if (fivo_criterion_parse(crit_text, &crit, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: [bound] resampling_criterion: %s\n", err.message);
        return 1;
    }
    fivo_session s;
    if (fivo_session_open(h, &s, split, 1) != 0)
        return 1;
    int rc = 1;
    fivo_ctx *ctx = NULL;
    fivo_checkpoint_meta meta = {0};
    char *used = NULL;
    fivo_status st = ckpt ? fivo_checkpoint_load(ckpt, s.params, NULL, &meta, &err)
                          : fivo_checkpoint_restore_latest(h->logdir, s.params, NULL, &meta, &used,
                                                           &err);
    if (st != FIVO_OK) {
        fprintf(stderr, "fivo: error: restoring a checkpoint: %s\n", err.message);
        goto out;
    }
    fprintf(stderr, "fivo: model restored from step %llu (%s), evaluating.\n",
            (unsigned long long)meta.step, ckpt ? ckpt : used);
    ctx = fivo_ctx_new((size_t)32 << 20, 0);
    if (!ctx) {
        fprintf(stderr, "fivo: error: out of memory\n");
        goto out;
    }
    const char *names[3] = {"elbo", "iwae", "fivo"};
    fivo_smc_options opts[3] = {
        {1, FIVO_RESAMPLE_NEVER, ess_threshold, NULL},
        {s.num_samples, FIVO_RESAMPLE_NEVER, ess_threshold, NULL},
        {s.num_samples, crit, ess_threshold, &s.resampler},
    };
    double per_t[3], per_seq[3];
    for (int k = 0; k < 3; k++) {
        fivo_eval_sums sums;
        if (fivo_session_eval_split(&s, &s.data, ctx, &opts[k], &sums, &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: %s bound on split %s: %s\n", names[k], split,
                    err.message);
            goto out;
        }
        per_t[k] = sums.timesteps > 0 ? sums.ll / (double)sums.timesteps : 0.0;
        per_seq[k] = sums.sequences > 0 ? sums.ll / (double)sums.sequences : 0.0;
    }
    printf("%s elbo ll/t: %f, iwae ll/t: %f fivo ll/t: %f\n", split, per_t[0], per_t[1], per_t[2]);
    printf("%s elbo ll/seq: %f, iwae ll/seq: %f fivo ll/seq: %f\n", split, per_seq[0], per_seq[1],
           per_seq[2]);
    fflush(stdout);
    fivo_report *r = fivo_report_new("eval");
    if (!r)
        goto out;
    fivo_report_set_string(r, "split", split);
    fivo_report_set_int(r, "checkpoint_step", (int64_t)meta.step);
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ll_per_t", names[k]);
        fivo_report_set_number(r, key, per_t[k]);
        snprintf(key, sizeof key, "%s_ll_per_seq", names[k]);
        fivo_report_set_number(r, key, per_seq[k]);
    }
    fivo_report_set_int(r, "num_samples", s.num_samples);
    fivo_error aerr = {0};
    if (fivo_report_append(r, h->metrics_path, &aerr) != FIVO_OK)
        fprintf(stderr, "fivo: error: %s\n", aerr.message);
    else
        rc = 0;
    fivo_report_free(r);
out:
    free(used);
    if (ctx)
        fivo_ctx_free(ctx);
    fivo_session_close(&s);
    return rc;
}
