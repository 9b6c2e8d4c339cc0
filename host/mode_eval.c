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

/* The bound plugins named in [eval] bounds (trimmed, empty entries
 * dropped), or NULL, after saying so, when it names none. */
static char **bound_names(const fivo_host *h, int *count)
{
    const char *text = h->set.eval_bounds;
    char **names = g_strsplit(text != NULL ? text : "", ",", -1);
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
        return NULL;
    }
    *count = n;
    return names;
}

/* The newest checkpoint in the logdir, or [eval] checkpoint, into the
 * session's parameters (rank 0 reads it for every rank); none in the
 * logdir evaluates the initial parameters. Returns 0 or 1. */
static int restore(fivo_host *h, fivo_session *s, fivo_checkpoint_meta *meta)
{
    const char *ckpt = h->set.checkpoint;
    const bool root = fivo_comm_rank() == 0;
    fivo_error err = {0};
    char *used = NULL;
    fivo_status st = fivo_host_restore(h->logdir, ckpt, s->params, NULL, meta, &used, &err);
    int rc = 0;
    if (st == FIVO_ERR_NOT_FOUND && !ckpt) {
        if (root)
            fprintf(stderr, "fivo: warning: %s; evaluating the initial parameters\n",
                    err.message);
    } else if (st != FIVO_OK) {
        if (root)
            fprintf(stderr, "fivo: error: restoring a checkpoint: %s\n", err.message);
        rc = 1;
    } else if (root) {
        fprintf(stderr, "fivo: model restored from step %llu (%s), evaluating.\n",
                (unsigned long long)meta->step, ckpt ? ckpt : used);
    }
    free(used);
    return rc;
}

/* Every bound is opened (and bound to the model) before the checkpoint
 * is restored, so bounds with parameters of their own get them back.
 * The trained bound is the session's (*trained: its index, or -1).
 * Returns the exit code. */
static int open_bounds(fivo_session *s, char **names, int n, fivo_bound *bounds, bool *opened,
                       int *trained)
{
    fivo_error err = {0};
    for (int k = 0; k < n; k++) {
        if (strcmp(names[k], s->bound_name) == 0) {
            *trained = k;
            continue;
        }
        if (fivo_session_open_bound(s, names[k], &bounds[k], &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: %s\n", err.message);
            return err.code == FIVO_ERR_INVALID ? 2 : 1;
        }
        opened[k] = true;
    }
    return 0;
}

/* Each bound's <name>_ll_per_t and _ll_per_seq, then its resampling rate,
 * log-weight variance and (exact models) gap. */
static void report_bounds(fivo_report *r, char **names, int n, const fivo_eval_stats *stats,
                          const double *per_t, const double *per_seq)
{
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
}

/* For models with an exact likelihood: the trained bound's diagnostics,
 * from its pass when it was one of [eval] bounds (`pass`: same streams,
 * same numbers), else from a pass of its own. Returns 0 or 1. */
static int report_trained(fivo_session *s, const fivo_eval_setup *es, const fivo_eval_stats *pass,
                          fivo_report *r)
{
    fivo_error err = {0};
    fivo_eval_stats own;
    if (pass == NULL && fivo_eval_pass(es, &s->dataset, &s->bound, &own, &err) != FIVO_OK) {
        if (fivo_comm_rank() == 0)
            fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    if (fivo_session_report_stats(s, pass != NULL ? pass : &own, r, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    return 0;
}

int fivo_host_run_eval(fivo_host *h)
{
    const char *split = h->set.split;
    fivo_error err = {0};
    int n = 0;
    char **names = bound_names(h, &n);
    if (names == NULL)
        return 2;
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
    if ((rc = open_bounds(&s, names, n, bounds, opened, &trained)) != 0 ||
        (rc = restore(h, &s, &meta)) != 0)
        goto out;
    rc = 1;
    fivo_eval_setup es = fivo_session_eval_setup(&s);
    for (int k = 0; k < n; k++) {
        st = fivo_eval_pass(&es, &s.dataset, k == trained ? &s.bound : &bounds[k], &stats[k],
                            &err);
        if (st != FIVO_OK) {
            if (root)
                fprintf(stderr, "fivo: error: %s bound on split %s: %s\n", names[k], split,
                    err.message);
            goto out;
        }
        per_t[k] = fivo_eval_stats_ll_per_t(&stats[k]);
        per_seq[k] = fivo_eval_stats_ll_per_seq(&stats[k]);
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
    report_bounds(r, names, n, stats, per_t, per_seq);
    if (fivo_session_has_exact(&s) &&
        report_trained(&s, &es, trained >= 0 ? &stats[trained] : NULL, r) != 0)
        goto out;
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
    g_strfreev(names);
    fivo_session_close(&s);
    return rc;
}
