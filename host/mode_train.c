/* --mode=train: any model, bound, resampler and dataset from the config.
 * Each step: reset the ctx, take batch `step` of the shuffled split (a pure
 * function of seed and step), compute the bound, loss = -mean(log p-hat /
 * length) (or / 1 when [train] normalize_by_seq_len = false), backward, Adam.
 * Every summarize_every steps a train report averages the window since the
 * last one: bound_per_t, and for models with an exact likelihood (GHMM)
 * true_ll_per_t and gap_per_t, as the reference's ghmm runner logs them.
 * With [train] eval_every > 0 the [eval] split is evaluated periodically and
 * at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "session.h"

typedef struct train_opts {
    double learning_rate, clip_global_norm;
    long max_steps, summarize_every, eval_every;
    bool normalize;
    const char *eval_split;
} train_opts;

/* Sums over the steps since the last report. */
typedef struct train_window {
    long steps;
    double bound, ll, gap, rate;
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

static int emit_summary(fivo_session *s, long step, train_window *win, bool exact)
{
    int64_t now = g_get_monotonic_time();
    double secs = (double)(now - win->t0_us) * 1e-6;
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
    fivo_report_free(r);
    *win = (train_window){0};
    win->t0_us = g_get_monotonic_time();
    return rc;
}

static int run_eval(fivo_session *s, fivo_dataset *ds, const char *split, long step)
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
        rc = fivo_host_emit(s->host, r);
    }
    fivo_report_free(r);
    return rc;
}

/* One training step; fills the window sums. */
static fivo_status train_step(fivo_session *s, fivo_adam *adam, const train_opts *o, long step,
                              double *ll, train_window *win, fivo_error *err)
{
    fivo_batch batch;
    fivo_status st = s->dataset.vt->batch(s->dataset.self, s->batch_size, true, s->seed,
                                          (uint64_t)step, &batch, err);
    if (st != FIVO_OK)
        return st == FIVO_END ? fivo_error_set(err, FIVO_ERR_FORMAT,
                                               "dataset '%s' ended a shuffled stream",
                                               s->dataset_name)
                              : st;
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_seed(s->ctx, s->seed, (uint64_t)step);
    fivo_smc_result res;
    if ((st = fivo_session_bound(s, &batch, &res, err)) != FIVO_OK)
        return st;
    if (fivo_params_count(s->params) > 0) {
        fivo_tensor *loss = train_loss(s->ctx, &res, &batch, o->normalize);
        if ((st = fivo_ctx_backward(s->ctx, loss, err)) != FIVO_OK)
            return st;
        if ((st = fivo_adam_step(adam, NULL, err)) != FIVO_OK)
            return st;
    }
    bool exact = fivo_session_has_exact(s);
    if (exact && (st = s->model.vt->log_likelihood(s->model.self, &batch, ll, err)) != FIVO_OK)
        return st;
    double bound = 0.0, lls = 0.0, gap = 0.0;
    int n = 0;
    for (int b = 0; b < batch.batch_size; b++) {
        int len = batch.lengths[b];
        if (len <= 0)
            continue;
        bound += res.log_phat->data[b] / len;
        if (exact) {
            lls += ll[b] / len;
            gap += (ll[b] - res.log_phat->data[b]) / len;
        }
        win->timesteps += len;
        n++;
    }
    if (n > 0) {
        win->bound += bound / n;
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
    if (o.eval_every > 0) {
        if ((rc = fivo_session_open_split(&s, o.eval_split, &eval_ds, &eval_info)) != 0)
            goto out;
        have_eval = true;
    }
    fivo_log_info("train: model %s, bound %s, resampler %s, dataset %s (%s), %d sequences x %d "
                  "particles, %d parameters",
                  s.model_name, s.bound_name, s.resampler_name, s.dataset_name, split,
                  s.batch_size, s.num_samples, fivo_params_count(s.params));

    double *ll = calloc((size_t)s.batch_size, sizeof(double));
    train_window win = {0};
    win.t0_us = g_get_monotonic_time();
    const bool exact = fivo_session_has_exact(&s);
    fivo_error err = {0};
    for (long step = 0; step < o.max_steps && rc == 0; step++) {
        if (ll == NULL) {
            fivo_error_set(&err, FIVO_ERR_NOMEM, "out of memory");
            rc = 1;
            break;
        }
        if (train_step(&s, adam, &o, step, ll, &win, &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: train step %ld: %s\n", step, err.message);
            rc = 1;
            break;
        }
        long done = step + 1;
        if (done % o.summarize_every == 0 || done == o.max_steps)
            rc = emit_summary(&s, done, &win, exact);
        if (rc == 0 && have_eval && (done % o.eval_every == 0 || done == o.max_steps))
            rc = run_eval(&s, &eval_ds, o.eval_split, done);
    }
    free(ll);
out:
    if (have_eval)
        fivo_dataset_close(&eval_ds);
    fivo_adam_free(adam);
    fivo_session_close(&s);
    return rc;
}
