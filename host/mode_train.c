/* --mode=train: any model, bound, resampler and dataset from the config.
 * Each step: reset the ctx, take batch `step` of the shuffled split (a pure
 * function of seed and step), compute the bound, loss = -mean(log p-hat /
 * length) (or / 1 when [train] normalize_by_seq_len = false), backward, Adam.
 * Every summarize_every steps a train report averages the window since the
 * last one: bound_per_t, and for models with an exact likelihood (GHMM)
 * true_ll_per_t and gap_per_t, as the reference's ghmm runner logs them.
 * With [train] eval_every > 0 the [eval] split is evaluated periodically and
 * at the end, and the parameters with the best bound_mean so far are kept in
 * <logdir>/best.fivo.
 *
 * Checkpoints (fivo/checkpoint.h) go to <logdir>/ckpt-<step>.fivo every
 * checkpoint_every_secs and at exit, also on SIGINT / SIGTERM (a flag checked
 * between steps); the last keep_checkpoints are kept. A run resumes from the
 * newest valid checkpoint with parameters, Adam state and step; as batches
 * and random streams are pure functions of (seed, step), an interrupted and
 * resumed run is bit-identical to an uninterrupted one. A NaN or inf in the
 * bound or gradients stops with a message naming the step and writes
 * nothing, so the last good checkpoint stays the newest. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include <fivo/checkpoint.h>

#include "logdir_lock.h"
#include "numeric_guard.h"
#include "session.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

typedef struct train_opts {
    double learning_rate, clip_global_norm, checkpoint_every_secs;
    long max_steps, summarize_every, eval_every, keep;
    bool normalize;
    const char *eval_split;
} train_opts;

/* Sums over the steps since the last report. */
typedef struct train_window {
    long steps;
    double bound, bound_seq, ll, gap, rate;
    int64_t timesteps;
    int64_t t0_us;
} train_window;

static int read_opts(const fivo_config *cfg, train_opts *o)
{
    fivo_error err = {0};
    o->eval_split = "valid";
    if (fivo_config_double_or(cfg, "train", "learning_rate", 2e-4, &o->learning_rate, &err) ||
        fivo_config_double_or(cfg, "train", "clip_global_norm", 0.0, &o->clip_global_norm,
                              &err) ||
        fivo_config_int_or(cfg, "train", "max_steps", 1000000000L, &o->max_steps, &err) ||
        fivo_config_int_or(cfg, "train", "summarize_every", 50, &o->summarize_every, &err) ||
        fivo_config_int_or(cfg, "train", "eval_every", 0, &o->eval_every, &err) ||
        fivo_config_bool_or(cfg, "train", "normalize_by_seq_len", true, &o->normalize, &err) ||
        fivo_config_double_or(cfg, "train", "checkpoint_every_secs", 120.0,
                              &o->checkpoint_every_secs, &err) ||
        fivo_config_int_or(cfg, "train", "keep_checkpoints", 5, &o->keep, &err) ||
        fivo_config_string_or(cfg, "eval", "split", "valid", &o->eval_split, &err)) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 2;
    }
    if (!(o->learning_rate > 0.0) || o->max_steps < 0 || o->summarize_every < 1 ||
        o->eval_every < 0) {
        fprintf(stderr, "fivo: error: [train] needs learning_rate > 0, max_steps >= 0, "
                        "summarize_every >= 1 and eval_every >= 0\n");
        return 2;
    }
    return 0;
}

/* 1 x 1 loss: -(1/B) sum_b log p-hat_b / L_b (or without / L_b). */
static fivo_tensor *train_loss(fivo_ctx *ctx, const fivo_smc_result *res, const fivo_batch *batch,
                               bool normalize)
{
    fivo_tensor *w = fivo_tensor_new(ctx, batch->batch_size, 1);
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        double scale = normalize ? (len > 0 ? 1.0 / len : 0.0) : 1.0;
        w->data[b] = (float)(-scale / batch->batch_size);
    }
    return fivo_sum_all(ctx, fivo_mul(ctx, res->log_phat, w));
}

static int emit_summary(fivo_session *s, long step, train_window *win, bool exact,
                        bool normalize)
{
    int64_t now = g_get_monotonic_time();
    double secs = (double)(now - win->t0_us) * 1e-6;
    /* The reference's logging line; the value is the window's mean of the
     * bound per timestep (per sequence when not normalising). */
    printf("Step %ld, %s bound per %s: %f (%.2f steps/s, %.0f timesteps/s)\n", step, s->bound_name,
           normalize ? "timestep" : "sequence",
           (normalize ? win->bound : win->bound_seq) / win->steps,
           secs > 0 ? win->steps / secs : 0.0, secs > 0 ? win->timesteps / secs : 0.0);
    fivo_report *r = fivo_report_new("train");
    fivo_report_set_int(r, "step", step);
    fivo_session_describe(s, r);
    fivo_report_set_number(r, "bound_per_t", win->bound / win->steps);
    if (exact) {
        fivo_report_set_number(r, "true_ll_per_t", win->ll / win->steps);
        fivo_report_set_number(r, "gap_per_t", win->gap / win->steps);
    }
    fivo_report_set_number(r, "resample_rate", win->rate / win->steps);
    fivo_report_set_number(r, "steps_per_sec", secs > 0 ? win->steps / secs : 0.0);
    fivo_report_set_number(r, "timesteps_per_sec", secs > 0 ? win->timesteps / secs : 0.0);
    int rc = fivo_host_emit(s->host, r);
    if (rc != 0)
        fprintf(stderr, "fivo: error: train step %ld: the report was not written\n", step);
    fivo_report_free(r);
    *win = (train_window){0};
    win->t0_us = g_get_monotonic_time();
    return rc;
}

static int run_eval(fivo_session *s, fivo_dataset *ds, const char *split, long step,
                    double *bound_mean)
{
    fivo_error err = {0};
    fivo_report *r = fivo_report_new("eval");
    fivo_report_set_int(r, "step", step);
    fivo_report_set_string(r, "split", split);
    int rc = 0;
    if (fivo_session_evaluate(s, ds, r, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
    } else {
        fivo_report_get_number(r, "bound_mean", bound_mean);
        rc = fivo_host_emit(s->host, r);
    }
    fivo_report_free(r);
    return rc;
}

static int save_numbered(fivo_session *s, fivo_adam *adam, long step, double best, long keep)
{
    fivo_checkpoint_meta meta = {(uint64_t)step, s->seed, 0, best, 0};
    fivo_error err = {0};
    char *path = NULL;
    if (fivo_checkpoint_save_numbered(s->host->logdir, s->params, adam, &meta, (int)keep, &path,
                                      &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: checkpoint at step %ld: %s\n", step, err.message);
        return 1;
    }
    fivo_log_info("saved %s", path);
    free(path);
    return 0;
}

static int save_best(fivo_session *s, fivo_adam *adam, long step, double best)
{
    fivo_checkpoint_meta meta = {(uint64_t)step, s->seed, 0, best, 0};
    fivo_error err = {0};
    char *path = g_build_filename(s->host->logdir, "best.fivo", NULL);
    int rc = 0;
    if (fivo_checkpoint_save(path, s->params, adam, &meta, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: best checkpoint at step %ld: %s\n", step, err.message);
        rc = 1;
    }
    g_free(path);
    return rc;
}

/* One training step; fills the window sums. */
static fivo_status train_step(fivo_session *s, fivo_adam *adam, const train_opts *o, long step,
                              double *ll, train_window *win, fivo_error *err)
{
    fivo_batch batch;
    fivo_status st = fivo_dataset_read_batch(&s->dataset, s->batch_size, true, s->seed,
                                          (uint64_t)step, &batch, err);
    if (st != FIVO_OK)
        return st == FIVO_END ? fivo_error_set(err, FIVO_ERR_FORMAT,
                                               "dataset '%s' ended a shuffled stream",
                                               s->dataset_name)
                              : st;
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_seed(s->ctx, s->seed, FIVO_RNG_DOMAIN_TRAIN + (uint64_t)step);
    fivo_smc_result res;
    if ((st = fivo_session_bound(s, &batch, &res, err)) != FIVO_OK)
        return fivo_host_explain_numeric(s->params, st, err); /* names a NaN parameter */
    /* Before any update: a non-finite bound stops the run untouched. */
    for (int b = 0; b < batch.batch_size; b++)
        if (!isfinite(res.log_phat->data[b]))
            return fivo_host_nonfinite_bound(s->params, b, res.log_phat->data[b], err);
    if (fivo_params_count(s->params) > 0) {
        fivo_tensor *loss = train_loss(s->ctx, &res, &batch, o->normalize);
        if ((st = fivo_ctx_backward(s->ctx, loss, err)) != FIVO_OK)
            return st;
        if ((st = fivo_adam_step(adam, NULL, err)) != FIVO_OK)
            return st;
    }
    bool exact = fivo_session_has_exact(s);
    if (exact && (st = fivo_model_log_likelihood(&s->model, &batch, ll, err)) != FIVO_OK)
        return st;
    double bound = 0.0, bound_seq = 0.0, lls = 0.0, gap = 0.0;
    int n = 0;
    for (int b = 0; b < batch.batch_size; b++) {
        int len = batch.lengths[b];
        if (len <= 0)
            continue;
        bound += res.log_phat->data[b] / len;
        bound_seq += res.log_phat->data[b];
        if (exact) {
            lls += ll[b] / len;
            gap += (ll[b] - res.log_phat->data[b]) / len;
        }
        win->timesteps += len;
        n++;
    }
    if (n > 0) {
        win->bound += bound / n;
        win->bound_seq += bound_seq / n;
        win->ll += lls / n;
        win->gap += gap / n;
    }
    win->rate += res.resample_rate;
    win->steps++;
    if (!isfinite(bound))
        return fivo_error_set(err, FIVO_ERR_NUMERIC, "the bound is %g", bound);
    return FIVO_OK;
}

int fivo_host_run_train(fivo_host *h)
{
    train_opts o;
    int rc = read_opts(h->cfg, &o);
    if (rc != 0)
        return rc;
    const char *split = "train";
    fivo_config_get_string(h->cfg, "dataset", "split", "train", &split, NULL);
    if (g_mkdir_with_parents(h->logdir, 0755) != 0) {
        fprintf(stderr, "fivo: error: %s: cannot create logdir\n", h->logdir);
        return 1;
    }
    if (fivo_host_lock_folder(h->logdir, "logdir") != 0) /* one writer per logdir */
        return 1;
    fivo_session s;
    if ((rc = fivo_session_open(&s, h, split)) != 0)
        return rc;

    fivo_adam_options ao;
    fivo_adam_options_default(&ao);
    ao.learning_rate = o.learning_rate;
    ao.clip_global_norm = o.clip_global_norm;
    fivo_adam *adam = fivo_adam_new(s.params, &ao);
    fivo_dataset eval_ds;
    fivo_dataset_info eval_info;
    bool have_eval = false;
    double *ll = NULL;
    struct sigaction sa, old_int, old_term;
    bool handlers = false;
    if (o.eval_every > 0) {
        if ((rc = fivo_session_open_split(&s, o.eval_split, &eval_ds, &eval_info)) != 0)
            goto out;
        have_eval = true;
    }

    /* Resume from the newest valid checkpoint (damaged newer ones are
     * refused with a warning naming them). */
    long start = 0;
    double best = NAN;
    fivo_error err = {0};
    fivo_checkpoint_meta meta;
    char *used = NULL;
    fivo_status st = fivo_checkpoint_restore_latest(h->logdir, s.params, adam, &meta, &used, &err);
    if (st == FIVO_OK) {
        start = (long)meta.step;
        best = meta.best_bound;
        if (meta.seed != s.seed)
            fivo_log_warn("%s was written with random_seed %llu; continuing with %llu", used,
                          (unsigned long long)meta.seed, (unsigned long long)s.seed);
        fprintf(stderr, "fivo: resuming from %s (step %ld)\n", used, start);
        free(used);
    } else if (st != FIVO_ERR_NOT_FOUND) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
        goto out;
    }
    long saved = st == FIVO_OK ? start : -1;

    fivo_log_info("train: model %s, bound %s, resampler %s, dataset %s (%s), %d sequences x %d "
                  "particles, %d parameters",
                  s.model_name, s.bound_name, s.resampler_name, s.dataset_name, split,
                  s.batch_size, s.num_samples, fivo_params_count(s.params));

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;

    ll = calloc((size_t)s.batch_size, sizeof(double));
    train_window win = {0};
    win.t0_us = g_get_monotonic_time();
    int64_t last_ckpt_us = win.t0_us;
    const bool exact = fivo_session_has_exact(&s);
    bool numeric_failure = false;
    long step = start;
    for (; step < o.max_steps && rc == 0 && !stop_signal; step++) {
        if (ll == NULL) {
            fprintf(stderr, "fivo: error: out of memory\n");
            rc = 1;
            break;
        }
        if ((st = train_step(&s, adam, &o, step, ll, &win, &err)) != FIVO_OK) {
            numeric_failure = st == FIVO_ERR_NUMERIC;
            fprintf(stderr, "fivo: error: train step %ld: %s%s\n", step, err.message,
                    numeric_failure ? "; stopping, the last good checkpoint is kept" : "");
            rc = 1;
            break;
        }
        long done = step + 1;
        if (done % o.summarize_every == 0 || done == o.max_steps)
            rc = emit_summary(&s, done, &win, exact, o.normalize);
        if (rc == 0 && have_eval && (done % o.eval_every == 0 || done == o.max_steps)) {
            double v = NAN;
            rc = run_eval(&s, &eval_ds, o.eval_split, done, &v);
            if (rc == 0 && isfinite(v) && (isnan(best) || v > best)) {
                best = v;
                rc = save_best(&s, adam, done, best);
            }
        }
        if (rc == 0 &&
            (double)(g_get_monotonic_time() - last_ckpt_us) * 1e-6 >= o.checkpoint_every_secs) {
            rc = save_numbered(&s, adam, done, best, o.keep);
            saved = done;
            last_ckpt_us = g_get_monotonic_time();
        }
    }
    /* At exit (done, signal, or a non-numeric error after a completed step):
     * the parameters are those after `step` steps. Never after a NaN. */
    if (!numeric_failure && step != saved && save_numbered(&s, adam, step, best, o.keep) != 0)
        rc = 1;
    if (stop_signal)
        fprintf(stderr, "fivo: stopped by signal %d after step %ld\n", (int)stop_signal, step);
out:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    free(ll);
    if (have_eval)
        fivo_dataset_close(&eval_ds);
    fivo_adam_free(adam);
    fivo_session_close(&s);
    return rc;
}
