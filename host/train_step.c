/* One training step in fixed shards, on one process or over MPI ranks (see
 * train_step.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fivo/internal/comm.h>
#include <fivo/internal/shards.h>
#include <fivo/internal/threads.h>

#include "numeric_guard.h"
#include "train_step.h"

enum { FAULT_NONE, FAULT_EXIT, FAULT_NAN, FAULT_ERROR };

/* FIVO_TEST_FAULT=rank:step:kind makes one rank misbehave at one step, for
 * the tests of what the other ranks do: exit (the process ends at once),
 * nan (its bound is NaN), error (its batch cannot be read). */
static void read_fault(fivo_trainer *t)
{
    t->fault_kind = FAULT_NONE;
    const char *f = getenv("FIVO_TEST_FAULT");
    char kind[16] = {0};
    if (f == NULL || sscanf(f, "%d:%ld:%15s", &t->fault_rank, &t->fault_step, kind) != 3)
        return;
    t->fault_kind = strcmp(kind, "exit") == 0    ? FAULT_EXIT
                    : strcmp(kind, "nan") == 0   ? FAULT_NAN
                    : strcmp(kind, "error") == 0 ? FAULT_ERROR
                                                 : FAULT_NONE;
}

/* W threads for this rank's shards: replicas for threads 1..W-1 (thread
 * 0 computes on the session itself), whose contexts, like the session's
 * from now on, run on one thread. */
static int open_workers(fivo_trainer *t, fivo_session *s, int w)
{
    fivo_error err = {0};
    t->replicas = calloc((size_t)w - 1, sizeof *t->replicas);
    t->bufs = calloc((size_t)w - 1, sizeof *t->bufs);
    if (t->replicas == NULL || t->bufs == NULL) {
        fprintf(stderr, "fivo: error: out of memory for %d shard threads\n", w);
        fivo_trainer_close(t);
        return 1;
    }
    for (; t->workers < w; t->workers++)
        if (fivo_replica_open(s, &t->replicas[t->workers - 1], &err) != FIVO_OK) {
            fprintf(stderr, "fivo: error: shard thread %d: %s\n", t->workers, err.message);
            fivo_trainer_close(t);
            return 1;
        }
    if ((t->pool = fivo_threads_new(w, &err)) == NULL ||
        fivo_ctx_set_threads(s->ctx, 1, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_trainer_close(t);
        return 1;
    }
    return 0;
}

int fivo_trainer_open(fivo_trainer *t, fivo_session *s, bool normalize, int shards, int threads)
{
    memset(t, 0, sizeof *t);
    t->ranks = fivo_comm_size();
    t->rank = fivo_comm_rank();
    t->shards = shards;
    t->num_local = t->shards / t->ranks;
    t->first_shard = t->rank * t->num_local;
    t->normalize = normalize;
    t->exact = fivo_session_has_exact(s);
    t->ntensors = fivo_params_count(s->params);
    t->nvalues = fivo_params_num_values(s->params);
    t->batch_size = s->batch_size;
    size_t B = (size_t)s->batch_size;
    t->lengths = calloc(B, sizeof *t->lengths);
    t->log_phat = calloc(B, sizeof *t->log_phat);
    t->ll = calloc(B, sizeof *t->ll);
    t->resampled = calloc(B, sizeof *t->resampled);
    t->mine = calloc(FIVO_TRAINER_SEQ_VALUES * B, sizeof *t->mine);
    t->metric_sums = calloc(FIVO_BOUND_MAX_METRICS * B, sizeof *t->metric_sums);
    t->exps = calloc((size_t)t->ntensors + 1, sizeof *t->exps);
    bool ok = t->lengths && t->log_phat && t->ll && t->resampled && t->mine && t->exps &&
              t->metric_sums;
    if (ok && t->shards > 1) {
        t->grads = malloc(sizeof(float) * (t->nvalues ? t->nvalues : 1) * (size_t)t->num_local);
        t->acc = malloc(sizeof(int64_t) * (t->nvalues ? t->nvalues : 1));
        ok = t->grads && t->acc;
    }
    if (ok && t->shards > 1) {
        t->shard_exps = calloc((size_t)t->num_local * (size_t)(t->ntensors + 1), sizeof *t->shard_exps);
        t->shard_status = calloc((size_t)t->num_local, sizeof *t->shard_status);
        t->shard_err = calloc((size_t)t->num_local, sizeof *t->shard_err);
        ok = t->shard_exps && t->shard_status && t->shard_err;
    }
    if (!ok) {
        fprintf(stderr, "fivo: error: out of memory for %d shards of %zu parameters\n",
                t->shards, t->nvalues);
        fivo_trainer_close(t);
        return 1;
    }
    read_fault(t);
    t->workers = 1;
    if (t->shards > 1 && t->num_local > 1 && threads > 1)
        return open_workers(t, s, threads < t->num_local ? threads : t->num_local);
    return 0;
}

void fivo_trainer_close(fivo_trainer *t)
{
    fivo_threads_free(t->pool);
    for (int w = 0; w + 1 < t->workers && t->replicas != NULL; w++) {
        fivo_replica_close(&t->replicas[w]);
        fivo_shard_buffer_free(&t->bufs[w]);
    }
    free(t->replicas);
    free(t->bufs);
    free(t->shard_exps);
    free(t->shard_status);
    free(t->shard_err);
    fivo_shard_buffer_free(&t->buf);
    free(t->grads);
    free(t->acc);
    free(t->exps);
    free(t->mine);
    free(t->lengths);
    free(t->log_phat);
    free(t->ll);
    free(t->resampled);
    free(t->metric_sums);
    memset(t, 0, sizeof *t);
}

/* 1 x 1 loss of a shard: (1/B) sum_b (-log p-hat_b + extra_b) / L_b (or
 * without / L_b), B the global batch, so the shards' gradients add up to
 * the batch's; extra (B x 1 or NULL) is the bound's own train_loss. */
static fivo_tensor *shard_loss(fivo_ctx *ctx, const fivo_smc_result *res, const fivo_tensor *extra,
                               const fivo_batch *batch, int global_batch, bool normalize)
{
    fivo_tensor *w = fivo_tensor_new(ctx, batch->batch_size, 1);
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        double scale = normalize ? (len > 0 ? 1.0 / len : 0.0) : 1.0;
        w->data[b] = (float)(-scale / global_batch);
    }
    fivo_tensor *per_seq = res->log_phat;
    if (extra != NULL)
        per_seq = fivo_sub(ctx, per_seq, extra);
    return fivo_sum_all(ctx, fivo_mul(ctx, per_seq, w));
}

static fivo_status get_batch(fivo_trainer *t, fivo_session *s, long step, fivo_batch *batch,
                             fivo_error *err)
{
    if (t->fault_kind == FAULT_EXIT && t->rank == t->fault_rank && step == t->fault_step) {
        fprintf(stderr, "fivo: test fault: rank %d exits at step %ld\n", t->rank, step);
        fflush(stderr);
        _exit(3);
    }
    if (t->fault_kind == FAULT_ERROR && t->rank == t->fault_rank && step == t->fault_step)
        return fivo_error_set(err, FIVO_ERR_IO, "dataset '%s' (%s): test fault: batch %ld unreadable",
                              s->dataset_name, s->dataset_path ? s->dataset_path : "-", step);
    fivo_status st = fivo_dataset_read_batch(&s->dataset, s->batch_size, true, s->seed,
                                             (uint64_t)step, batch, err);
    if (st == FIVO_END)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "dataset '%s' ended a shuffled stream",
                              s->dataset_name);
    return st;
}

/* The global batch's lengths (every rank has the whole batch). */
static void note_lengths(fivo_trainer *t, const fivo_batch *full)
{
    t->valid_steps = 0;
    for (int b = 0; b < full->batch_size; b++) {
        t->lengths[b] = full->lengths[b];
        t->valid_steps += full->lengths[b];
    }
}

/* What computes a shard: the session's own objects, or a replica's. */
typedef struct shard_exec {
    fivo_params *params;
    fivo_model *model;
    fivo_bound *bound;
    fivo_resampler *resampler;
    fivo_ctx *ctx;
    fivo_shard_buffer *buf;
} shard_exec;

static shard_exec exec_of(fivo_trainer *t, fivo_session *s, int w)
{
    if (w == 0)
        return (shard_exec){s->params, &s->model, &s->bound, &s->resampler, s->ctx, &t->buf};
    fivo_replica *r = &t->replicas[w - 1];
    return (shard_exec){r->params, &r->model, &r->bound, &r->resampler, r->ctx, &t->bufs[w - 1]};
}

/* Bound, finite check, backward and exact likelihood of one shard; its
 * per-sequence results go to t's global arrays at `first`. `lead`: the
 * rank's first shard, which names the bound's metrics. */
static fivo_status run_shard(fivo_trainer *t, const fivo_session *s, const shard_exec *e, long step,
                             const fivo_batch *b, int first, bool lead, double *resample_rate,
                             fivo_error *err)
{
    fivo_ctx_reset(e->ctx);
    fivo_ctx_set_seed(e->ctx, s->seed, FIVO_RNG_DOMAIN_TRAIN + (uint64_t)step);
    fivo_smc_result res;
    fivo_status st = fivo_bound_compute(e->bound, e->ctx, e->model, e->resampler, b, s->num_samples,
                                        &res, err);
    if (st != FIVO_OK)
        return fivo_host_explain_numeric(e->params, st, err); /* names a NaN parameter */
    if (t->fault_kind == FAULT_NAN && t->rank == t->fault_rank && step == t->fault_step)
        res.log_phat->data[0] = NAN;
    /* Before any update: a non-finite bound stops the run untouched. */
    for (int i = 0; i < b->batch_size; i++)
        if (!isfinite(res.log_phat->data[i]))
            return fivo_host_nonfinite_bound(e->params, first + i, res.log_phat->data[i], err);
    fivo_tensor *extra = NULL;
    fivo_bound_metric met[FIVO_BOUND_MAX_METRICS];
    int nmet = 0;
    if ((st = fivo_bound_train_loss(e->bound, e->ctx, b, &extra, met, &nmet, err)) != FIVO_OK)
        return st;
    double *sums = t->metric_sums + (size_t)first * FIVO_BOUND_MAX_METRICS;
    memset(sums, 0, sizeof(double) * FIVO_BOUND_MAX_METRICS * (size_t)b->batch_size);
    for (int k = 0; k < FIVO_BOUND_MAX_METRICS; k++)
        sums[k] = k < nmet ? met[k].sum : 0.0;
    if (lead) {
        t->num_metrics = nmet;
        for (int k = 0; k < nmet; k++)
            t->metric_names[k] = met[k].name;
    }
    if (t->ntensors > 0) {
        fivo_tensor *loss = shard_loss(e->ctx, &res, extra, b, t->batch_size, t->normalize);
        if ((st = fivo_ctx_backward(e->ctx, loss, err)) != FIVO_OK)
            return st;
    }
    if (t->exact && (st = fivo_model_log_likelihood(e->model, b, t->ll + first, err)) != FIVO_OK)
        return st;
    for (int i = 0; i < b->batch_size; i++) {
        int32_t n = 0;
        for (int k = 0; k < b->lengths[i] && k < res.max_len; k++)
            n += res.resampled[(size_t)k * (size_t)b->batch_size + (size_t)i] != 0;
        t->log_phat[first + i] = res.log_phat->data[i];
        t->resampled[first + i] = n;
    }
    *resample_rate = res.resample_rate;
    return FIVO_OK;
}

/* One shard, one process: today's step exactly (no slicing, no fixed point). */
static fivo_status plain_step(fivo_trainer *t, fivo_session *s, long step, fivo_error *err)
{
    fivo_batch batch;
    fivo_status st = get_batch(t, s, step, &batch, err);
    if (st != FIVO_OK)
        return st;
    note_lengths(t, &batch);
    shard_exec e = exec_of(t, s, 0);
    return run_shard(t, s, &e, step, &batch, 0, true, &t->resample_rate, err);
}

/* Own shard j (0-based among this rank's) on e: compute it, set its
 * gradient aside in slot j, note its exponents, zero e's gradients. */
static fivo_status own_shard(fivo_trainer *t, fivo_session *s, const shard_exec *e, long step,
                             const fivo_batch *full, int j, fivo_error *err)
{
    int first, count;
    fivo_shard_range(t->batch_size, t->shards, t->first_shard + j, &first, &count);
    fivo_batch b;
    fivo_status st = fivo_shard_slice(full, first, count, e->buf, &b, err);
    if (st != FIVO_OK)
        return st;
    double rate;
    if ((st = run_shard(t, s, e, step, &b, first, j == 0, &rate, err)) != FIVO_OK)
        return fivo_error_prefix(err, "shard %d: ", t->first_shard + j);
    float *g = t->grads + (size_t)j * t->nvalues;
    int32_t *exps = t->shard_exps + (size_t)j * (size_t)t->ntensors;
    for (int i = 0; i < t->ntensors; i++) {
        const char *name;
        fivo_tensor *p = fivo_params_at(e->params, i, &name);
        size_t n = fivo_tensor_size(p);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(p->grad[k]))
                return fivo_error_set(err, FIVO_ERR_NUMERIC,
                                      "shard %d: gradient of %s is not finite (NaN or inf)",
                                      t->first_shard + j, name);
        exps[i] = fivo_fixed_max_exponent(p->grad, n);
        memcpy(g, p->grad, sizeof(float) * n);
        memset(p->grad, 0, sizeof(float) * n);
        g += n;
    }
    return FIVO_OK;
}

typedef struct shards_job {
    fivo_trainer *t;
    fivo_session *s;
    long step;
    const fivo_batch *full;
} shards_job;

/* Thread w's shards: w, w + W, w + 2W, ... (a fixed assignment, so each
 * replica is used by one thread; the results do not depend on it). */
static void shards_piece(void *arg, int w)
{
    const shards_job *job = arg;
    fivo_trainer *t = job->t;
    shard_exec e = exec_of(t, job->s, w);
    for (int j = w; j < t->num_local; j += t->workers) {
        t->shard_err[j].code = FIVO_OK;
        t->shard_err[j].message[0] = '\0';
        t->shard_status[j] = own_shard(t, job->s, &e, job->step, job->full, j, &t->shard_err[j]);
    }
}

/* Own shards: compute each (on the shard threads when there are several),
 * then take each tensor's largest exponent; the first failed shard in
 * shard order is the one reported, whatever the thread count. */
static fivo_status local_shards(fivo_trainer *t, fivo_session *s, long step, fivo_error *err)
{
    fivo_batch full;
    fivo_status st = get_batch(t, s, step, &full, err);
    if (st != FIVO_OK)
        return st;
    note_lengths(t, &full);
    for (int w = 1; w < t->workers; w++)
        fivo_replica_sync(&t->replicas[w - 1], s);
    shards_job job = {t, s, step, &full};
    fivo_threads_run(t->pool, t->workers, shards_piece, &job);
    for (int j = 0; j < t->num_local; j++)
        if (t->shard_status[j] != FIVO_OK) {
            *err = t->shard_err[j];
            return t->shard_status[j];
        }
    for (int i = 0; i < t->ntensors; i++) {
        t->exps[1 + i] = FIVO_FIXED_EXP_ZERO;
        for (int j = 0; j < t->num_local; j++) {
            int32_t e = t->shard_exps[(size_t)j * (size_t)t->ntensors + (size_t)i];
            if (e > t->exps[1 + i])
                t->exps[1 + i] = e;
        }
    }
    return FIVO_OK;
}

/* The per-sequence results of every rank, in batch order (ranks hold
 * consecutive shards, shards consecutive sequences), then the batch's
 * resampling rate from the per-sequence counts. */
static fivo_status gather_results(fivo_trainer *t, fivo_error *err)
{
    if (t->ranks > 1) {
        int first, count, last_first, last_count;
        fivo_shard_range(t->batch_size, t->shards, t->first_shard, &first, &count);
        fivo_shard_range(t->batch_size, t->shards, t->first_shard + t->num_local - 1,
                         &last_first, &last_count);
        int n = last_first + last_count - first;
        enum { K = FIVO_TRAINER_SEQ_VALUES };
        for (int i = 0; i < n; i++) {
            double *m = t->mine + (size_t)K * (size_t)i;
            m[0] = (double)t->log_phat[first + i];
            m[1] = t->exact ? t->ll[first + i] : 0.0;
            m[2] = (double)t->resampled[first + i];
            memcpy(m + 3, t->metric_sums + (size_t)(first + i) * FIVO_BOUND_MAX_METRICS,
                   sizeof(double) * FIVO_BOUND_MAX_METRICS);
        }
        double *all = NULL;
        int n_all = 0;
        fivo_status st = fivo_comm_gather_doubles(t->mine, K * n, &all, &n_all, err);
        if (st != FIVO_OK)
            return st;
        if (n_all != K * t->batch_size) {
            free(all);
            return fivo_error_set(err, FIVO_ERR_INVALID, "gathered %d results for %d sequences",
                                  n_all / K, t->batch_size);
        }
        for (int b = 0; b < t->batch_size; b++) {
            const double *m = all + (size_t)K * (size_t)b;
            t->log_phat[b] = (float)m[0]; /* a float sent as a double: exact */
            t->ll[b] = m[1];
            t->resampled[b] = (int32_t)m[2];
            memcpy(t->metric_sums + (size_t)b * FIVO_BOUND_MAX_METRICS, m + 3,
                   sizeof(double) * FIVO_BOUND_MAX_METRICS);
        }
        free(all);
    }
    t->resample_steps = 0;
    for (int b = 0; b < t->batch_size; b++)
        t->resample_steps += t->resampled[b];
    t->resample_rate =
        t->valid_steps > 0 ? (double)t->resample_steps / (double)t->valid_steps : 0.0;
    return FIVO_OK;
}

fivo_status fivo_trainer_step(fivo_trainer *t, fivo_session *s, long step, fivo_status pending,
                              bool *stop, fivo_error *err)
{
    if (t->shards == 1 && t->ranks == 1)
        return pending != FIVO_OK ? pending : plain_step(t, s, step, err);

    fivo_status st = pending != FIVO_OK ? pending : local_shards(t, s, step, err);
    if (st != FIVO_OK)
        fivo_params_zero_grad(s->params);
    t->exps[0] = *stop ? 1 : 0;
    st = fivo_comm_agree(st, err, t->exps, 1 + t->ntensors);
    *stop = t->exps[0] != 0;
    if (st != FIVO_OK)
        return st;

    /* Exact sum of every shard's gradient, the same on every rank. */
    if (t->ntensors > 0) {
        memset(t->acc, 0, sizeof(int64_t) * t->nvalues);
        for (int j = 0; j < t->num_local; j++) {
            const float *g = t->grads + (size_t)j * t->nvalues;
            int64_t *a = t->acc;
            for (int i = 0; i < t->ntensors; i++) {
                size_t n = fivo_tensor_size(fivo_params_at(s->params, i, NULL));
                fivo_fixed_add(a, g, n, fivo_fixed_scale(t->exps[1 + i], t->shards));
                g += n;
                a += n;
            }
        }
        if ((st = fivo_comm_sum_int64(t->acc, t->nvalues, err)) != FIVO_OK)
            return st;
        const int64_t *a = t->acc;
        for (int i = 0; i < t->ntensors; i++) {
            fivo_tensor *p = fivo_params_at(s->params, i, NULL);
            size_t n = fivo_tensor_size(p);
            fivo_fixed_to_float(p->grad, a, n, fivo_fixed_scale(t->exps[1 + i], t->shards));
            a += n;
        }
    }
    return gather_results(t, err);
}
