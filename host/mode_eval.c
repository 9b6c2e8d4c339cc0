/* --mode=eval: restores the newest checkpoint in logdir (or [eval]
 * checkpoint) and evaluates, over the whole [dataset] split in order and
 * without gradients, the reference's three bounds: ELBO (1 particle), IWAE
 * (num_samples particles, never resampling) and FIVO (num_samples, resampling
 * by [bound] resampling_criterion / ess_threshold with the configured
 * resampler), per timestep (sum / total timesteps) and per sequence:
 *   <split> elbo ll/t: X, iwae ll/t: Y fivo ll/t: Z
 *   <split> elbo ll/seq: ...
 * For models with an exact likelihood (the GHMM) the configured bound's
 * diagnostics (true_ll_per_t, gap_per_t, ...) are added to the report. */
#include <stdio.h>
#include <stdlib.h>

#include <fivo/checkpoint.h>
#include <fivo/comm.h>

#include "session.h"

int fivo_host_run_eval(fivo_host *h)
{
    const char *split = "train", *ckpt = NULL, *crit_text = "ess";
    double ess_threshold = 0.5;
    fivo_error err = {0};
    fivo_config_get_string(h->cfg, "dataset", "split", "train", &split, NULL);
    if (fivo_config_string_or(h->cfg, "eval", "checkpoint", NULL, &ckpt, &err) ||
        fivo_config_double_or(h->cfg, "bound", "ess_threshold", 0.5, &ess_threshold, &err) ||
        fivo_config_string_or(h->cfg, "bound", "resampling_criterion", "ess", &crit_text, &err)) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 2;
    }
    fivo_criterion crit;
    if (fivo_criterion_parse(crit_text, &crit, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: [bound] resampling_criterion: %s\n", err.message);
        return 2;
    }
    fivo_session s;
    int rc = fivo_session_open(&s, h, split);
    /* MPI: every rank opens the split; all stop if one cannot (it printed why). */
    const char *path = "(none)";
    fivo_config_get_string(h->cfg, "dataset", "path", "(none)", &path, NULL);
    fivo_error_set(&err, FIVO_ERR_IO, "opening split %s of dataset %s failed", split, path);
    if (fivo_comm_agree(rc != 0 ? FIVO_ERR_IO : FIVO_OK, &err, NULL, 0) != FIVO_OK) {
        if (fivo_comm_size() > 1 && fivo_comm_rank() == 0)
            fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_session_close(&s);
        return rc != 0 ? rc : 1;
    }
    const bool root = fivo_comm_rank() == 0;
    rc = 1;
    fivo_report *r = NULL;
    fivo_checkpoint_meta meta = {0};
    char *used = NULL;
    /* Rank 0 reads the checkpoint for every rank. */
    fivo_status st = fivo_host_restore(h->logdir, ckpt, s.params, NULL, &meta, &used, &err);
    if (st == FIVO_ERR_NOT_FOUND && !ckpt) {
        if (root)
            fprintf(stderr, "fivo: warning: %s; evaluating the initial parameters\n",
                    err.message);
    } else if (st != FIVO_OK) {
        if (root)
            fprintf(stderr, "fivo: error: restoring a checkpoint: %s\n", err.message);
        goto out;
    } else if (root) {
        fprintf(stderr, "fivo: model restored from step %llu (%s), evaluating.\n",
                (unsigned long long)meta.step, ckpt ? ckpt : used);
    }
    static const char *const names[3] = {"elbo", "iwae", "fivo"};
    fivo_smc_options opts[3] = {
        {1, FIVO_RESAMPLE_NEVER, ess_threshold, NULL},
        {s.num_samples, FIVO_RESAMPLE_NEVER, ess_threshold, NULL},
        {s.num_samples, crit, ess_threshold, &s.resampler},
    };
    double per_t[3], per_seq[3];
    for (int k = 0; k < 3; k++) {
        fivo_eval_sums sums;
        if (fivo_session_eval_sums(&s, &s.dataset, &opts[k], &sums, &err) != FIVO_OK) {
            if (root)
                fprintf(stderr, "fivo: error: %s bound on split %s: %s\n", names[k], split,
                    err.message);
            goto out;
        }
        per_t[k] = sums.timesteps > 0 ? sums.ll / (double)sums.timesteps : 0.0;
        per_seq[k] = sums.sequences > 0 ? sums.ll / (double)sums.sequences : 0.0;
    }
    if (root) {
        printf("%s elbo ll/t: %f, iwae ll/t: %f fivo ll/t: %f\n", split, per_t[0], per_t[1],
               per_t[2]);
        printf("%s elbo ll/seq: %f, iwae ll/seq: %f fivo ll/seq: %f\n", split, per_seq[0],
               per_seq[1], per_seq[2]);
        fflush(stdout);
    }
    r = fivo_report_new("eval");
    fivo_report_set_string(r, "split", split);
    fivo_report_set_int(r, "checkpoint_step", (int64_t)meta.step);
    fivo_report_set_int(r, "step", (int64_t)meta.step);
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ll_per_t", names[k]);
        fivo_report_set_number(r, key, per_t[k]);
        snprintf(key, sizeof key, "%s_ll_per_seq", names[k]);
        fivo_report_set_number(r, key, per_seq[k]);
    }
    if (fivo_session_has_exact(&s) &&
        fivo_session_evaluate(&s, &s.dataset, r, &err) != FIVO_OK) {
        if (root)
            fprintf(stderr, "fivo: error: %s\n", err.message);
        goto out;
    }
    fivo_report_set_int(r, "num_samples", s.num_samples);
    rc = fivo_host_emit(h, r);
out:
    if (r)
        fivo_report_free(r);
    free(used);
    fivo_session_close(&s);
    return rc;
}
