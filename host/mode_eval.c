/* --mode=eval: restores the newest checkpoint in logdir (or [eval]
 * checkpoint) and runs each bound plugin named in [eval] bounds (default
 * elbo,iwae,fivo: the reference's three) over the whole [dataset] split in
 * order, without gradients. Each bound is opened from the registry with its
 * own settings ([bound] for the trained bound, [bound.NAME] otherwise) and
 * decides its own particles (ELBO uses one). Prints, as the reference:
 *   <split> elbo ll/t: X, iwae ll/t: Y fivo ll/t: Z
 *   <split> elbo ll/seq: ...
 * and reports <name>_ll_per_t, <name>_ll_per_seq, <name>_resample_rate and
 * <name>_log_weight_var for each, <name>_gap_per_t when the model has an
 * exact likelihood, plus the trained bound's diagnostics (true_ll_per_t,
 * gap_per_t, ...) for such models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/comm.h>
#include <fivo/internal/metrics.h>
#include <fivo/internal/registry.h>

#include "session.h"

/* The reference's line: ", " between entries but a plain space before the
 * last, as its three-bound format string has it. */
static void print_line(const char *split, char **names, const double *v, int n, const char *unit)
{
    printf("%s", split);
    for (int k = 0; k < n; k++)
        printf("%s%s ll/%s: %f", k == 0 ? " " : k == n - 1 ? " " : ", ", names[k], unit, v[k]);
    printf("\n");
}

int fivo_host_run_eval(fivo_host *h)
{
    const char *split = h->set.split, *ckpt = h->set.checkpoint, *bounds_text = h->set.eval_bounds;
    fivo_error err = {0};
    char **names = g_strsplit(bounds_text != NULL ? bounds_text : "", ",", -1);
    int n = 0;
    for (int i = 0; names[i] != NULL; i++) {
        g_strstrip(names[i]);
        if (names[i][0] != '\0')
            names[n++] = names[i];
        else
            g_free(names[i]);
    }
    names[n] = NULL;
    if (n == 0) {
        fprintf(stderr, "fivo: error: %s: [eval] bounds names no bound\n",
                fivo_config_origin(h->cfg, "eval", "bounds"));
        g_strfreev(names);
        return 2;
    }
    fivo_session s;
    int rc = fivo_session_open(&s, h, split);
    /* MPI: all ranks stop if one cannot open the split (it printed why). */
    const char *path = "(none)";
    fivo_config_get_string(h->cfg, "dataset", "path", "(none)", &path, NULL);
    fivo_error_set(&err, FIVO_ERR_IO, "opening split %s of dataset %s failed", split, path);
    if (fivo_comm_agree(rc != 0 ? FIVO_ERR_IO : FIVO_OK, &err, NULL, 0) != FIVO_OK) {
        if (fivo_comm_size() > 1 && fivo_comm_rank() == 0)
            fprintf(stderr, "fivo: error: %s\n", err.message);
        if (rc == 0)
            fivo_session_close(&s);
        g_strfreev(names);
        return rc != 0 ? rc : 1;
    }
    /* Every rank computes; rank 0 alone prints (fivo_host_emit writes only there). */
    const bool root = fivo_comm_rank() == 0;
    rc = 1;
    fivo_report *r = NULL;
    fivo_checkpoint_meta meta = {0};
    char *used = NULL;
    fivo_eval_stats *stats = calloc((size_t)n, sizeof *stats);
    double *per_t = calloc((size_t)n, sizeof *per_t), *per_seq = calloc((size_t)n, sizeof *per_seq);
    fivo_bound *bounds = calloc((size_t)n, sizeof *bounds);
    bool *opened = calloc((size_t)n, sizeof *opened);
    int trained = -1;
    fivo_status st = FIVO_OK;
    if (stats == NULL || per_t == NULL || per_seq == NULL || bounds == NULL || opened == NULL) {
        fprintf(stderr, "fivo: error: eval: out of memory\n");
        goto out;
    }
    /* Every bound is opened (and bound to the model) before the checkpoint
     * is restored, so bounds with parameters of their own get them back.
     * The trained bound is the session's. */
    for (int k = 0; k < n; k++) {
        if (strcmp(names[k], s.bound_name) == 0) {
            trained = k;
            continue;
        }
        if (fivo_session_open_bound(&s, names[k], &bounds[k], &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: %s\n", err.message);
            rc = err.code == FIVO_ERR_INVALID ? 2 : 1;
            goto out;
        }
        opened[k] = true;
    }
    /* Rank 0 reads the checkpoint for every rank. */
    st = fivo_host_restore(h->logdir, ckpt, s.params, NULL, &meta, &used, &err);
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
    for (int k = 0; k < n; k++) {
        st = fivo_session_eval_bound(&s, &s.dataset, k == trained ? &s.bound : &bounds[k],
                                     &stats[k], &err);
        if (st != FIVO_OK) {
            if (root)
                fprintf(stderr, "fivo: error: %s bound on split %s: %s\n", names[k], split,
                    err.message);
            goto out;
        }
        per_t[k] = stats[k].timesteps > 0 ? stats[k].ll / (double)stats[k].timesteps : 0.0;
        per_seq[k] = stats[k].sequences > 0 ? stats[k].ll / (double)stats[k].sequences : 0.0;
    }
    if (root) {
        print_line(split, names, per_t, n, "t");
        print_line(split, names, per_seq, n, "seq");
        fflush(stdout);
    }
    r = fivo_report_new("eval");
    fivo_report_set_string(r, "split", split);
    fivo_report_set_int(r, "checkpoint_step", (int64_t)meta.step);
    fivo_report_set_int(r, "step", (int64_t)meta.step);
    for (int k = 0; k < n; k++) {
        char *key = g_strdup_printf("%s_ll_per_t", names[k]);
        fivo_report_set_number(r, key, per_t[k]);
        g_free(key);
        key = g_strdup_printf("%s_ll_per_seq", names[k]);
        fivo_report_set_number(r, key, per_seq[k]);
        g_free(key);
    }
    for (int k = 0; k < n; k++) {
        char *key = g_strdup_printf("%s_resample_rate", names[k]);
        fivo_report_set_number(r, key, fivo_eval_stats_resample_rate(&stats[k]));
        g_free(key);
        key = g_strdup_printf("%s_log_weight_var", names[k]);
        fivo_report_set_number(r, key, fivo_eval_stats_log_weight_var(&stats[k]));
        g_free(key);
        if (stats[k].exact && stats[k].nseq > 0) {
            key = g_strdup_printf("%s_gap_per_t", names[k]);
            fivo_report_set_number(r, key, stats[k].gap_sum / (double)stats[k].nseq);
            g_free(key);
        }
    }
    if (fivo_session_has_exact(&s)) {
        /* The trained bound's diagnostics, from its pass when it was one of
         * [eval] bounds (same streams, same numbers), else from its own. */
        fivo_eval_stats own;
        if (trained < 0 && fivo_session_eval_bound(&s, &s.dataset, &s.bound, &own, &err) != FIVO_OK) {
            if (root)
                fprintf(stderr, "fivo: error: %s\n", err.message);
            goto out;
        }
        if (fivo_session_report_stats(&s, trained >= 0 ? &stats[trained] : &own, r, &err) !=
            FIVO_OK) {
            fprintf(stderr, "fivo: error: %s\n", err.message);
            goto out;
        }
    }
    fivo_report_set_int(r, "num_samples", s.num_samples);
    rc = fivo_host_emit(h, r);
out:
    if (r)
        fivo_report_free(r);
    for (int k = 0; bounds != NULL && opened != NULL && k < n; k++)
        if (opened[k])
            fivo_bound_close(&bounds[k]);
    free(bounds);
    free(opened);
    free(stats);
    free(per_t);
    free(per_seq);
    free(used);
    g_strfreev(names);
    fivo_session_close(&s);
    return rc;
}
