/* --mode=train: any model, bound, resampler and dataset from the config.
 * Each step: reset the ctx, take batch `step` of the shuffled split (a pure
 * function of seed and step), compute the bound, loss = -mean(log p-hat /
 * length) (or / 1 when [train] normalize_by_seq_len = false), backward, Adam.
 * Every summarize_every steps a train report averages the window since the
 * last one: bound_per_t, and for models with an exact likelihood (GHMM)
 * true_ll_per_t and gap_per_t, as the reference's ghmm runner logs them.
 * With [train] eval_every > 0 the [eval] split is evaluated periodically and
 * at the end, and the parameters with the best bound_mean so far are kept in
 * <logdir>/best.fivo; with early_stopping_patience = K > 0 training stops
 * after K evaluations in a row without a better one.
 *
 * Checkpoints (fivo/checkpoint.h) go to <logdir>/ckpt-<step>.fivo every
 * checkpoint_every_secs and at exit, also on SIGINT / SIGTERM (a flag checked
 * between steps); the last keep_checkpoints are kept. A run resumes from the
 * newest valid checkpoint with parameters, Adam state and step; as batches
 * and random streams are pure functions of (seed, step), an interrupted and
 * resumed run is bit-identical to an uninterrupted one. A NaN or inf in the
 * bound or gradients stops with a message naming the step and writes
 * nothing, so the last good checkpoint stays the newest.
 *
 * The step itself is libfivo's (fivo/train_step.h): [fivo] shards fixed pieces of the global
 * batch, computed by this process or spread over MPI ranks, with the same
 * bits on any rank count. With several ranks every rank trains the same
 * model; rank 0 alone writes checkpoints and metrics and prints the
 * reports; every rank starts from rank 0's read of the checkpoint; any
 * rank's failure stops every rank after the same step with one message
 * (from rank 0) naming the failing rank. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/comm.h>
#include <fivo/internal/log.h>
#include <fivo/internal/metrics.h>
#include <fivo/internal/optim.h>
#include <fivo/internal/registry.h>

#include "logdir_lock.h"
#include "run_config.h"
#include "session.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* Sums over the steps since the last report. */
typedef struct train_window {
    long steps;
    double bound, bound_seq, ll, gap, rate;
    int64_t timesteps;
    int64_t t0_us;
    /* The bound's train_loss metrics: per step the mean over sequences. */
    int num_metrics;
    const char *metric_names[FIVO_BOUND_MAX_METRICS];
    double metric[FIVO_BOUND_MAX_METRICS];
} train_window;

/* Errors every rank knows (an agreed failure) are printed once, by rank 0. */
static bool prints(void) { return fivo_comm_rank() == 0; }

static int emit_summary(fivo_session *s, long step, train_window *win, bool exact,
                        bool normalize)
{
    int64_t now = g_get_monotonic_time();
    double secs = (double)(now - win->t0_us) * 1e-6;
    if (!prints()) {
        *win = (train_window){0};
        win->t0_us = g_get_monotonic_time();
        return 0;
    }
    /* The reference's logging line; the value is the window's mean of the
     * bound per timestep (per sequence when not normalising). */
    fivo_progress_clear();
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
    for (int k = 0; k < win->num_metrics; k++)
        fivo_report_set_number(r, win->metric_names[k], win->metric[k] / win->steps);
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
        if (prints())
            fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
    } else {
        fivo_report_get_number(r, "bound_mean", bound_mean);
        rc = fivo_host_emit(s->host, r);
    }
    fivo_report_free(r);
    return rc;
}

static int save_numbered(fivo_session *s, fivo_adam *adam, long step, double best, long keep,
                         uint64_t layout)
{
    if (!prints())
        return 0;
    fivo_checkpoint_meta meta = {(uint64_t)step, s->seed, 0, best, layout};
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

/* The early-stopping counter at a resume: evaluations after best.fivo's
 * step up to `start` (every eval_every steps), so a resumed run stops where
 * an uninterrupted one would. Rank 0 reads best.fivo; every rank agrees. */
static long resume_since_best(const char *logdir, long start, long eval_every, double best)
{
    int64_t n = 0;
    if (start > 0 && eval_every > 0 && isfinite(best) && prints()) {
        char *path = g_build_filename(logdir, "best.fivo", NULL);
        fivo_checkpoint_meta m;
        fivo_error e = {0};
        if (fivo_checkpoint_verify(path, &m, &e) == FIVO_OK && (long)m.step <= start)
            n = start / eval_every - (long)m.step / eval_every;
        g_free(path);
    }
    if (fivo_comm_size() > 1)
        (void)fivo_comm_broadcast(&n, sizeof n, 0, NULL);
    return (long)n;
}

static int save_best(fivo_session *s, fivo_adam *adam, long step, double best, uint64_t layout)
{
    if (!prints())
        return 0;
    fivo_checkpoint_meta meta = {(uint64_t)step, s->seed, 0, best, layout};
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

/* One training step (fivo/train_step.h), Adam, and the window sums. */
static fivo_status train_step(fivo_session *s, fivo_trainer *tr, fivo_adam *adam, long step,
                              fivo_status pending, bool *stop, train_window *win,
                              fivo_error *err)
{
    fivo_status st = fivo_trainer_step(tr, step, pending, stop, err);
    if (st != FIVO_OK)
        return st;
    if (fivo_params_count(s->params) > 0 && (st = fivo_adam_step(adam, NULL, err)) != FIVO_OK)
        return st;
    const bool exact = tr->exact;
    const float *lp = tr->log_phat;
    const double *ll = tr->ll;
    double bound = 0.0, bound_seq = 0.0, lls = 0.0, gap = 0.0;
    int n = 0;
    for (int b = 0; b < tr->batch_size; b++) {
        int len = tr->lengths[b];
        if (len <= 0)
            continue;
        bound += lp[b] / len;
        bound_seq += lp[b];
        if (exact) {
            lls += ll[b] / len;
            gap += (ll[b] - lp[b]) / len;
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
    win->rate += tr->resample_rate;
    win->num_metrics = tr->num_metrics;
    for (int k = 0; k < tr->num_metrics; k++) {
        double sum = 0.0;
        for (int b = 0; b < tr->batch_size; b++)
            sum += tr->metric_sums[(size_t)b * FIVO_BOUND_MAX_METRICS + (size_t)k];
        win->metric_names[k] = tr->metric_names[k];
        win->metric[k] += tr->batch_size > 0 ? sum / tr->batch_size : 0.0;
    }
    win->steps++;
    if (!isfinite(bound))
        return fivo_error_set(err, FIVO_ERR_NUMERIC, "the bound is %g", bound);
    return FIVO_OK;
}

/* Resume from the newest valid checkpoint (damaged newer ones are refused
 * with a warning naming them); rank 0 reads it for every rank. Returns
 * FIVO_OK (resumed: *start, *best), FIVO_ERR_NOT_FOUND (a new run) or the
 * failure, said by rank 0. */
static fivo_status resume(fivo_host *h, fivo_session *s, fivo_adam *adam, int shards, long *start,
                          double *best)
{
    fivo_error err = {0};
    fivo_checkpoint_meta meta;
    char *used = NULL;
    fivo_status st = fivo_host_restore(h->logdir, NULL, s->params, adam, &meta, &used, &err);
    if (st == FIVO_OK) {
        *start = (long)meta.step;
        *best = meta.best_bound;
        int cb = 0, cs = 1;
        if (!fivo_checkpoint_layout_get(meta.flags, &cb, &cs))
            cb = s->batch_size;
        if (prints() && meta.seed != s->seed)
            fivo_log_warn("%s was written with random_seed %llu; continuing with %llu", used,
                          (unsigned long long)meta.seed, (unsigned long long)s->seed);
        if (prints() && (cb != s->batch_size || cs != shards))
            fivo_log_warn("%s was written with batch_size %d in %d shards; continuing with "
                          "batch_size %d in %d shards (not a bit-exact continuation)",
                          used, cb, cs, s->batch_size, shards);
        if (prints())
            fprintf(stderr, "fivo: resuming from %s (step %ld)\n", used, *start);
        free(used);
    } else if (st != FIVO_ERR_NOT_FOUND) {
        if (prints())
            fprintf(stderr, "fivo: error: %s\n", err.message);
    }
    return st;
}

/* After an eval of bound mean v at step `done`: a better bound is kept in
 * best.fivo; with early_stopping_patience, that many evals without one
 * stop the run. Returns the best checkpoint's write status (0 or 1). */
static int keep_best(fivo_session *s, fivo_adam *adam, const fivo_host_settings *o, long done,
                     double v, uint64_t layout, double *best, long *since_best, bool *stop_early)
{
    if (isfinite(v) && (isnan(*best) || v > *best)) {
        *best = v;
        *since_best = 0;
        return save_best(s, adam, done, *best, layout);
    }
    if (o->early_stopping_patience > 0 && ++*since_best >= o->early_stopping_patience) {
        if (prints())
            fivo_log_info("early stopping after step %ld: %ld evaluations without a "
                          "better bound than %g (kept in best.fivo)",
                          done, *since_best, *best);
        *stop_early = true;
    }
    return 0;
}

/* SIGINT and SIGTERM set stop_signal: the run stops after the step. */
static void catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

/* The end of a run: MPI's cost per step, or how a signal stopped it. */
static void say_end(int ranks, long start, long step, bool stop, uint64_t bytes0, double comm0)
{
    if (ranks > 1 && prints() && step > start)
        fivo_log_info("mpi: %d ranks, %llu bytes passed to collectives per step by rank 0, "
                      "%.3f ms per step in them (waiting for other ranks included)",
                      ranks,
                      (unsigned long long)((fivo_comm_bytes_sent() - bytes0) /
                                           (uint64_t)(step - start)),
                      1e3 * (fivo_comm_seconds() - comm0) / (double)(step - start));
    if (ranks == 1 && stop_signal)
        fprintf(stderr, "fivo: stopped by signal %d after step %ld\n", (int)stop_signal, step);
    else if (ranks > 1 && stop && prints())
        fprintf(stderr, "fivo: stopped by a signal to a rank after step %ld\n", step);
}

/* Collective: every rank learns whether every rank opened everything.
 * A rank's own failure was printed by that rank (naming the file); rank 0
 * adds which rank and host it was. */
static int agree_open(int rc, const char *what, const fivo_host *h, const char *split)
{
    fivo_error err = {0};
    const char *name = h->set.dataset != NULL ? h->set.dataset : "?";
    const char *path = h->set.dataset_path != NULL ? h->set.dataset_path : "(none)";
    if (rc != 0)
        fivo_error_set(&err, FIVO_ERR_IO, "%s (split %s, dataset %s, path %s) failed", what,
                       split, name, path);
    if (fivo_comm_agree(rc != 0 ? FIVO_ERR_IO : FIVO_OK, &err, NULL, 0) == FIVO_OK)
        return 0;
    if (fivo_comm_size() > 1 && prints())
        fprintf(stderr, "fivo: error: %s; every rank stops\n", err.message);
    return rc != 0 ? rc : 1;
}

/* A run's loop state: what the steps, the reports, the evaluations and
 * the checkpoints share. */
typedef struct train_run {
    fivo_host *h;
    const fivo_host_settings *o;
    fivo_session *s;
    fivo_trainer *tr;
    fivo_adam *adam;
    fivo_dataset *eval_ds; /* NULL: no evaluations */
    uint64_t layout;
    bool exact;
    long start, step, saved; /* saved: the last numbered checkpoint's step, or -1 */
    double best;
    long since_best;
    bool stop, stop_early, numeric_failure;
    train_window win;
    int64_t last_ckpt_us;
    /* A failure only this rank had (rank 0 writing a file): reported to
     * every rank with the next step, so that all stop together. */
    fivo_status pending;
    fivo_error err;
} train_run;

/* After step `done`: the summary, the evaluation (best.fivo, early
 * stopping) and the timed checkpoint. 0, 1 when this rank could not write
 * (every rank hears of it with the next step), or -1 when the evaluation
 * failed (collective: every rank knows). */
static int after_step(train_run *r, long done)
{
    const fivo_host_settings *o = r->o;
    int local = 0;
    if (done % o->summarize_every == 0 || done == o->max_steps)
        local = emit_summary(r->s, done, &r->win, r->exact, o->normalize_by_seq_len);
    if (local == 0 && r->eval_ds != NULL && (done % o->eval_every == 0 || done == o->max_steps)) {
        double v = NAN;
        if (run_eval(r->s, r->eval_ds, o->eval_split, done, &v) != 0)
            return -1;
        local = keep_best(r->s, r->adam, o, done, v, r->layout, &r->best, &r->since_best,
                          &r->stop_early);
    }
    if (local == 0 &&
        (double)(g_get_monotonic_time() - r->last_ckpt_us) * 1e-6 >= o->checkpoint_every_secs) {
        local = save_numbered(r->s, r->adam, done, r->best, o->keep_checkpoints, r->layout);
        r->saved = done;
        r->last_ckpt_us = g_get_monotonic_time();
    }
    return local;
}

/* The steps from r->start until max_steps, a signal, early stopping or an
 * error; r->step ends as the number of steps done. Returns the exit code. */
static int train_loop(train_run *r)
{
    const fivo_host_settings *o = r->o;
    int rc = 0;
    /* The terminal progress line: rank 0's only. */
    fivo_progress *prog =
        prints() ? fivo_progress_start("train", "steps", r->start, o->max_steps) : NULL;
    for (r->step = r->start; r->step < o->max_steps && !r->stop && !r->stop_early; r->step++) {
        r->stop = stop_signal != 0;
        if (r->stop && r->tr->ranks == 1)
            break;
        /* From Adam's update count, which the checkpoint restores: a resumed
         * run decays exactly as an uninterrupted one. */
        if (o->decay_steps > 0)
            fivo_adam_set_learning_rate(r->adam, fivo_lr_decay(o->learning_rate, o->decay_steps,
                                                               fivo_adam_get_step(r->adam)));
        fivo_status st =
            train_step(r->s, r->tr, r->adam, r->step, r->pending, &r->stop, &r->win, &r->err);
        if (st != FIVO_OK) {
            r->numeric_failure = st == FIVO_ERR_NUMERIC;
            if (prints())
                fprintf(stderr, "fivo: error: train step %ld: %s%s\n", r->step, r->err.message,
                        r->numeric_failure ? "; stopping, the last good checkpoint is kept" : "");
            rc = 1;
            break;
        }
        long done = r->step + 1;
        fivo_host_train_progress(prog, done, r->s->bound_name, r->win.bound / r->win.steps);
        int local = after_step(r, done);
        if (local < 0) {
            rc = 1;
            r->step++;
            break;
        }
        if (local != 0) {
            rc = 1;
            r->pending = fivo_error_set(&r->err, FIVO_ERR_IO, "writing a report or checkpoint "
                                                              "after step %ld failed (see above)",
                                        done);
            if (r->tr->ranks == 1) {
                r->step++;
                break;
            }
        }
    }
    fivo_progress_finish(prog);
    return rc;
}

/* What a run opens, in order; train_close closes what is open. */
typedef struct train_parts {
    fivo_session s;
    fivo_adam *adam;
    fivo_dataset eval_ds;
    fivo_trainer tr;
    bool have_eval, have_trainer;
} train_parts;

static void train_close(train_parts *p)
{
    if (p->have_trainer)
        fivo_trainer_close(&p->tr);
    if (p->have_eval)
        fivo_dataset_close(&p->eval_ds);
    fivo_adam_free(p->adam);
    fivo_session_close(&p->s);
}

/* The logdir, the session, the logdir's lock, Adam, the eval split and the
 * shard trainer; every rank agrees after each. Returns 0 or the exit code
 * (train_close still closes what was opened). */
static int train_open(fivo_host *h, train_parts *p)
{
    const fivo_host_settings *o = &h->set;
    memset(p, 0, sizeof *p);
    int rc = 0;
    if (prints() && g_mkdir_with_parents(h->logdir, 0755) != 0) {
        fprintf(stderr, "fivo: error: %s: cannot create logdir\n", h->logdir);
        rc = 1;
    }
    if (rc == 0)
        rc = fivo_session_open(&p->s, h, o->split);
    if ((rc = agree_open(rc, "opening the session", h, o->split)) != 0)
        return rc;
    /* One writer per logdir; taken once the run is known to start (a
     * command that names a missing plugin never contends for it). */
    if (fivo_host_lock_folder(h->logdir, "logdir") != 0)
        return 1;

    fivo_adam_options ao;
    fivo_adam_options_default(&ao);
    ao.learning_rate = o->learning_rate;
    ao.clip_global_norm = o->clip_global_norm;
    p->adam = fivo_adam_new(p->s.params, &ao);
    if (p->adam == NULL)
        fprintf(stderr, "fivo: error: out of memory for the optimizer (Adam moments of %d "
                        "parameters)\n",
                fivo_params_count(p->s.params));
    if ((rc = agree_open(p->adam == NULL, "creating the optimizer", h, o->split)) != 0)
        return rc;
    if (o->eval_every > 0) {
        fivo_dataset_info eval_info;
        rc = fivo_session_open_split(&p->s, o->eval_split, &p->eval_ds, &eval_info);
        p->have_eval = rc == 0;
    }
    if (rc == 0) {
        fivo_train_setup ts = fivo_session_train_setup(&p->s, o->normalize_by_seq_len,
                                                       (int)o->shards, (int)o->threads);
        fivo_error terr = {0};
        if (fivo_trainer_open(&p->tr, &ts, &terr) != FIVO_OK) {
            fprintf(stderr, "fivo: error: %s\n", terr.message);
            rc = 1;
        }
        p->have_trainer = rc == 0;
    }
    return agree_open(rc, "opening the eval split or the shards", h, o->eval_split);
}

/* From the opened parts: resume, write config.ini, the loop, the last
 * checkpoint. Returns the exit code. */
static int train_run_from(fivo_host *h, train_parts *p)
{
    const fivo_host_settings *o = &h->set;
    fivo_session *s = &p->s;
    const uint64_t layout = fivo_checkpoint_layout(s->batch_size, p->tr.shards);
    long start = 0;
    double best = NAN;
    fivo_status st = resume(h, s, p->adam, p->tr.shards, &start, &best);
    if (st != FIVO_OK && st != FIVO_ERR_NOT_FOUND)
        return 1;
    long saved = st == FIVO_OK ? start : -1;
    /* Every check passed and the run starts: its settings, so that
     * --config <logdir>/config.ini repeats it and eval/sample find them. */
    int rc = agree_open(prints() ? fivo_host_run_config_write(h) : 0,
                        "writing " FIVO_RUN_CONFIG_NAME, h, o->split);
    if (rc != 0)
        return rc;
    if (prints())
        fivo_log_info("train: model %s, bound %s, resampler %s, dataset %s (%s), %d sequences x "
                      "%d particles in %d shards on %d ranks, %d parameters",
                      s->model_name, s->bound_name, s->resampler_name, s->dataset_name, o->split,
                      s->batch_size, s->num_samples, p->tr.shards, p->tr.ranks,
                      fivo_params_count(s->params));

    struct sigaction old_int, old_term;
    catch_signals(&old_int, &old_term);
    const uint64_t bytes0 = fivo_comm_bytes_sent();
    const double comm0 = fivo_comm_seconds();
    train_run r = {.h = h, .o = o, .s = s, .tr = &p->tr, .adam = p->adam,
                   .eval_ds = p->have_eval ? &p->eval_ds : NULL, .layout = layout,
                   .exact = fivo_session_has_exact(s), .start = start, .saved = saved,
                   .best = best};
    r.win.t0_us = g_get_monotonic_time();
    r.last_ckpt_us = r.win.t0_us;
    /* Evaluations since the best one (early stopping), counted on from
     * best.fivo's step on resume. Eval is collective, so every rank stops
     * early at the same step. */
    r.since_best = resume_since_best(h->logdir, start, o->eval_every, best);
    r.stop_early = o->early_stopping_patience > 0 && r.since_best >= o->early_stopping_patience;
    if (r.stop_early && prints())
        fivo_log_info("train: %s stopped early before step %ld (%ld evaluations without a better "
                      "bound than %g); nothing to do",
                      h->logdir, start, r.since_best, best);
    rc = train_loop(&r);
    /* At exit (done, signal, or a non-numeric error after a completed step):
     * the parameters are those after r.step steps. Never after a NaN. */
    if (!r.numeric_failure && r.step != r.saved &&
        save_numbered(s, p->adam, r.step, r.best, o->keep_checkpoints, layout) != 0)
        rc = 1;
    say_end(p->tr.ranks, start, r.step, r.stop, bytes0, comm0);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

int fivo_host_run_train(fivo_host *h)
{
    train_parts p;
    int rc = train_open(h, &p);
    if (rc == 0)
        rc = train_run_from(h, &p);
    train_close(&p);
    return rc;
}
