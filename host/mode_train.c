/* --mode=train: Adam on -(bound) (per timestep unless normalize_by_seq_len
 * is false), with the reference's "Step N, <bound> bound per timestep: X"
 * lines, periodic validation keeping the best checkpoint, and checkpoints
 * every checkpoint_every_secs and at exit (also on SIGINT / SIGTERM).
 *
 * Reproducibility: batch i is a pure function of (seed, i) and the random
 * streams of step i are keyed by (seed, i), so resuming from a checkpoint
 * (parameters, Adam moments and count, step) continues bit for bit like an
 * uninterrupted run. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <fivo/checkpoint.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct train_opts {
    double learning_rate, checkpoint_every_secs, clip_global_norm;
    long max_steps, summarize_every, eval_every, keep;
    bool normalize;
    const char *split, *eval_split, *bound_name;
} train_opts;

static int read_opts(fivo_host *h, train_opts *o)
{
    fivo_error err;
    fivo_error_clear(&err);
    fivo_config *c = h->cfg;
    if (fivo_config_double_or(c, "train", "learning_rate", 2e-4, &o->learning_rate, &err) ||
        fivo_config_int_or(c, "train", "max_steps", 1000000000L, &o->max_steps, &err) ||
        fivo_config_int_or(c, "train", "summarize_every", 50, &o->summarize_every, &err) ||
        fivo_config_bool_or(c, "train", "normalize_by_seq_len", true, &o->normalize, &err) ||
        fivo_config_int_or(c, "train", "eval_every", 0, &o->eval_every, &err) ||
        fivo_config_double_or(c, "train", "checkpoint_every_secs", 120, &o->checkpoint_every_secs,
                              &err) ||
        fivo_config_int_or(c, "train", "keep_checkpoints", 5, &o->keep, &err) ||
        fivo_config_double_or(c, "train", "clip_global_norm", 0, &o->clip_global_norm, &err) ||
        fivo_config_string_or(c, "dataset", "split", "train", &o->split, &err) ||
        fivo_config_string_or(c, "eval", "split", "valid", &o->eval_split, &err) ||
        fivo_config_string_or(c, "bound", "plugin", "fivo", &o->bound_name, &err)) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    if (o->summarize_every <= 0)
        o->summarize_every = 1;
    if (o->max_steps < 0 || !(o->learning_rate > 0)) {
        fprintf(stderr, "fivo: error: max_steps must be >= 0 and learning_rate > 0\n");
        return 1;
    }
    return 0;
}

static int save(fivo_host *h, fivo_session *s, fivo_adam *adam, uint64_t step, double best,
                long keep)
{
    fivo_checkpoint_meta meta = {.step = step, .seed = s->seed, .adam_step = 0, .best_bound = best};
    fivo_error err = {0};
    char *path = NULL;
    if (fivo_checkpoint_save_numbered(h->logdir, s->params, adam, &meta, (int)keep, &path, &err) !=
        FIVO_OK) {
        fprintf(stderr, "fivo: error: saving a checkpoint at step %llu: %s\n",
                (unsigned long long)step, err.message);
        return 1;
    }
    fprintf(stderr, "fivo: saved %s\n", path);
    free(path);
    return 0;
}

int fivo_host_run_train(fivo_host *h)
{
    train_opts o;
    if (read_opts(h, &o) != 0)
        return 1;
    if (g_mkdir_with_parents(h->logdir, 0755) != 0) {
        fprintf(stderr, "fivo: error: %s: cannot create logdir: %s\n", h->logdir,
                g_strerror(errno));
        return 1;
    }
    fivo_session s;
    if (fivo_session_open(h, &s, o.split, 1) != 0)
        return 1;
    int rc = 1;
    fivo_dataset valid;
    int have_valid = 0;
    fivo_ctx *ctx = NULL;
    fivo_adam *adam = NULL;
    fivo_error err;
    fivo_error_clear(&err);
    fivo_adam_options ao;
    fivo_adam_options_default(&ao);
    ao.learning_rate = o.learning_rate;
    ao.clip_global_norm = o.clip_global_norm;
    adam = fivo_adam_new(s.params, &ao);
    ctx = fivo_ctx_new((size_t)32 << 20, 0);
    if (!adam || !ctx) {
        fprintf(stderr, "fivo: error: out of memory\n");
        goto out;
    }
    if (o.eval_every > 0) {
        const char *path = NULL;
        fivo_config_string_or(h->cfg, "dataset", "path", NULL, &path, NULL);
        if (fivo_dataset_open(h->reg, s.data.name, h->cfg, path, o.eval_split, &valid, &err) !=
            FIVO_OK) {
            fprintf(stderr, "fivo: error: validation split: %s\n", err.message);
            goto out;
        }
        have_valid = 1;
    }

    /* Resume from the newest valid checkpoint, if any. */
    uint64_t step = 0;
    double best = NAN;
    fivo_checkpoint_meta meta;
    char *used = NULL;
    fivo_status st = fivo_checkpoint_restore_latest(h->logdir, s.params, adam, &meta, &used, &err);
    if (st == FIVO_OK) {
        step = meta.step;
        best = meta.best_bound;
        if (meta.seed != s.seed)
            fprintf(stderr, "fivo: warning: %s was written with random_seed %llu, this run uses "
                            "%llu\n",
                    used, (unsigned long long)meta.seed, (unsigned long long)s.seed);
        fprintf(stderr, "fivo: resuming from %s (step %llu)\n", used, (unsigned long long)step);
        free(used);
    } else if (st != FIVO_ERR_NOT_FOUND) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        goto out;
    }
    uint64_t saved_step = st == FIVO_OK ? step : (uint64_t)-1;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    float *inv_len = malloc(sizeof(float) * (size_t)s.batch_size);
    if (!inv_len) {
        fprintf(stderr, "fivo: error: out of memory\n");
        goto restore_signals;
    }
    double t_start = now_secs(), t_last_ckpt = t_start, t_window = t_start;
    int64_t window_steps = 0, window_timesteps = 0;
    int failed = 0;
    while ((long)step < o.max_steps && !stop_requested) {
        fivo_batch batch;
        if (s.data.vt->batch(s.data.self, s.batch_size, true, s.seed, step, &batch, &err) !=
            FIVO_OK) {
            fprintf(stderr, "fivo: error: step %llu: %s\n", (unsigned long long)step, err.message);
            failed = 1;
            break;
        }
        fivo_ctx_reset(ctx);
        fivo_ctx_set_grad_enabled(ctx, true);
        fivo_ctx_set_seed(ctx, s.seed, step);
        fivo_smc_result res;
        memset(&res, 0, sizeof res);
        st = s.bound.vt->compute(s.bound.self, ctx, &s.model, &s.resampler, &batch,
                                 s.num_samples, &res, &err);
        if (st == FIVO_ERR_NUMERIC) {
            fprintf(stderr, "fivo: error: step %llu: %s; stopping (the last good checkpoint is "
                            "kept)\n",
                    (unsigned long long)step, err.message);
            failed = 2;
            break;
        }
        if (st != FIVO_OK) {
            fprintf(stderr, "fivo: error: step %llu: %s\n", (unsigned long long)step, err.message);
            failed = 1;
            break;
        }
        int B = batch.batch_size;
        double bound_per_t = 0, bound_per_seq = 0;
        int64_t ts = 0;
        for (int b = 0; b < B; b++) {
            double ll = res.log_phat->data[b];
            bound_per_t += ll / batch.lengths[b];
            bound_per_seq += ll;
            ts += batch.lengths[b];
            inv_len[b] = o.normalize ? 1.0f / (float)batch.lengths[b] : 1.0f;
        }
        bound_per_t /= B;
        bound_per_seq /= B;
        double bound_value = o.normalize ? bound_per_t : bound_per_seq;
        if (!isfinite(bound_value)) {
            fprintf(stderr, "fivo: error: step %llu: the %s bound is %g; stopping (the last good "
                            "checkpoint is kept)\n",
                    (unsigned long long)step, o.bound_name, bound_value);
            failed = 2;
            break;
        }
        fivo_tensor *w = fivo_tensor_from(ctx, B, 1, inv_len);
        fivo_tensor *loss =
            fivo_scale(ctx, fivo_sum_all(ctx, fivo_mul(ctx, res.log_phat, w)), -1.0f / (float)B);
        if (fivo_ctx_backward(ctx, loss, &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: step %llu: %s\n", (unsigned long long)step, err.message);
            failed = 1;
            break;
        }
        st = fivo_adam_step(adam, NULL, &err);
        if (st != FIVO_OK) {
            fprintf(stderr, "fivo: error: step %llu: %s; stopping (the last good checkpoint is "
                            "kept)\n",
                    (unsigned long long)step, err.message);
            failed = st == FIVO_ERR_NUMERIC ? 2 : 1;
            break;
        }
        step++;
        window_steps++;
        window_timesteps += ts;
        if ((long)step % o.summarize_every == 0) {
            double t = now_secs(), dt = t - t_window;
            double sps = dt > 0 ? window_steps / dt : 0, tps = dt > 0 ? window_timesteps / dt : 0;
            printf("Step %llu, %s bound per %s: %f (%.2f steps/s, %.0f timesteps/s)\n",
                   (unsigned long long)step, o.bound_name, o.normalize ? "timestep" : "sequence",
                   bound_value, sps, tps);
            fflush(stdout);
            fivo_report *r = fivo_report_new("train");
            if (r) {
                fivo_report_set_int(r, "step", (int64_t)step);
                fivo_report_set_number(r, "bound_per_t", bound_per_t);
                fivo_report_set_number(r, "bound_per_seq", bound_per_seq);
                fivo_report_set_number(r, "steps_per_sec", sps);
                fivo_report_set_number(r, "timesteps_per_sec", tps);
                fivo_report_set_number(r, "resample_rate", res.resample_rate);
                fivo_error aerr = {0};
                if (fivo_report_append(r, h->metrics_path, &aerr) != FIVO_OK)
                    fprintf(stderr, "fivo: warning: %s\n", aerr.message);
                fivo_report_free(r);
            }
            t_window = t;
            window_steps = window_timesteps = 0;
        }
        if (have_valid && (long)step % o.eval_every == 0) {
            fivo_eval_sums sums;
            if (fivo_session_eval_bound(&s, &valid, ctx, &sums, &err) != FIVO_OK) {
                fprintf(stderr, "fivo: error: validation at step %llu: %s\n",
                        (unsigned long long)step, err.message);
                failed = 1;
                break;
            }
            double v = sums.timesteps > 0 ? sums.ll / (double)sums.timesteps : 0;
            int improved = isfinite(v) && (isnan(best) || v > best);
            printf("Step %llu, %s %s ll/t: %f%s\n", (unsigned long long)step, o.eval_split,
                   o.bound_name, v, improved ? " (best)" : "");
            if (improved) {
                best = v;
                size_t n = strlen(h->logdir) + 16;
                char *bp = malloc(n);
                fivo_checkpoint_meta bm = {.step = step, .seed = s.seed, .best_bound = best};
                if (bp) {
                    snprintf(bp, n, "%s/best.fivo", h->logdir);
                    if (fivo_checkpoint_save(bp, s.params, adam, &bm, &err) != FIVO_OK)
                        fprintf(stderr, "fivo: error: %s\n", err.message);
                    free(bp);
                }
            }
            fivo_report *r = fivo_report_new("eval");
            if (r) {
                fivo_report_set_int(r, "step", (int64_t)step);
                fivo_report_set_string(r, "split", o.eval_split);
                fivo_report_set_number(r, "bound_per_t", v);
                fivo_report_set_number(r, "bound_per_seq",
                                       sums.sequences ? sums.ll / (double)sums.sequences : 0);
                fivo_report_set_number(r, "best_bound_per_t", best);
                fivo_error aerr = {0};
                fivo_report_append(r, h->metrics_path, &aerr);
                fivo_report_free(r);
            }
        }
        if (now_secs() - t_last_ckpt >= o.checkpoint_every_secs) {
            if (save(h, &s, adam, step, best, o.keep) != 0) {
                failed = 1;
                break;
            }
            saved_step = step;
            t_last_ckpt = now_secs();
        }
    }
    free(inv_len);
    if (failed != 2 && step != saved_step) {
        /* At exit, after a signal or an I/O error: the parameters are
         * those of a completed step. Not after a NaN: keep the last good. */
        if (save(h, &s, adam, step, best, o.keep) != 0)
            failed = 1;
    }
    if (stop_requested)
        fprintf(stderr, "fivo: stopped by signal %d at step %llu\n", (int)stop_requested,
                (unsigned long long)step);
    rc = failed ? 1 : 0;
restore_signals:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
out:
    if (have_valid)
        fivo_dataset_close(&valid);
    if (ctx)
        fivo_ctx_free(ctx);
    if (adam)
        fivo_adam_free(adam);
    fivo_session_close(&s);
    return rc;
}
