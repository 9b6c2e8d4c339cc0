/* One training step in fixed shards, on one process or over MPI ranks (see
 * train_step.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fivo/comm.h>

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

int fivo_trainer_open(fivo_trainer *t, fivo_session *s, bool normalize)
{
    memset(t, 0, sizeof *t);
    fivo_error err = {0};
    long shards = 1;
    if (fivo_config_int_or(s->host->cfg, "fivo", "shards", 1, &shards, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 2;
    }
    t->ranks = fivo_comm_size();
    t->rank = fivo_comm_rank();
    if (shards > INT32_MAX ||
        fivo_shards_check(s->batch_size, (int)shards, t->ranks, &err) != FIVO_OK) {
        if (shards > INT32_MAX)
            fivo_error_set(&err, FIVO_ERR_INVALID, "[fivo] shards = %ld is too large", shards);
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 2;
    }
    t->shards = (int)shards;
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
    t->mine = calloc(3 * B, sizeof *t->mine);
    t->exps = calloc((size_t)t->ntensors + 1, sizeof *t->exps);
    bool ok = t->lengths && t->log_phat && t->ll && t->resampled && t->mine && t->exps;
    if (ok && t->shards > 1) {
        t->grads = malloc(sizeof(float) * (t->nvalues ? t->nvalues : 1) * (size_t)t->num_local);
        t->acc = malloc(sizeof(int64_t) * (t->nvalues ? t->nvalues : 1));
        ok = t->grads && t->acc;
    }
    if (!ok) {
        fprintf(stderr, "fivo: error: out of memory for %d shards of %zu parameters\n",
                t->shards, t->nvalues);
        fivo_trainer_close(t);
        return 1;
    }
    read_fault(t);
    return 0;
}

void fivo_trainer_close(fivo_trainer *t)
{
    fivo_shard_buffer_free(&t->buf);
    free(t->grads);
    free(t->acc);
    free(t->exps);
    free(t->mine);
    free(t->lengths);
    free(t->log_phat);
    free(t->ll);
    free(t->resampled);
    memset(t, 0, sizeof *t);
}

/* 1 x 1 loss of a shard: -(1/B) sum_b log p-hat_b / L_b (or without / L_b),
 * B the global batch, so the shards' gradients add up to the batch's. */
static fivo_tensor *shard_loss(fivo_ctx *ctx, const fivo_smc_result *res, const fivo_batch *batch,
                               int global_batch, bool normalize)
{
    fivo_tensor *w = fivo_tensor_new(ctx, batch->batch_size, 1);
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        double scale = normalize ? (len > 0 ? 1.0 / len : 0.0) : 1.0;
        w->data[b] = (float)(-scale / global_batch);
    }
    return fivo_sum_all(ctx, fivo_mul(ctx, res->log_phat, w));
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

/* Bound, finite check, backward and exact likelihood of one shard; its
 * per-sequence results go to t's global arrays at `first`. */
static fivo_status run_shard(fivo_trainer *t, fivo_session *s, long step, const fivo_batch *b,
                             int first, double *resample_rate, fivo_error *err)
{
    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_seed(s->ctx, s->seed, FIVO_RNG_DOMAIN_TRAIN + (uint64_t)step);
    fivo_smc_result res;
    fivo_status st = fivo_session_bound(s, b, &res, err);
    if (st != FIVO_OK)
        return fivo_host_explain_numeric(s->params, st, err); /* names a NaN parameter */
    if (t->fault_kind == FAULT_NAN && t->rank == t->fault_rank && step == t->fault_step)
        res.log_phat->data[0] = NAN;
    /* Before any update: a non-finite bound stops the run untouched. */
    for (int i = 0; i < b->batch_size; i++)
        if (!isfinite(res.log_phat->data[i]))
            return fivo_host_nonfinite_bound(s->params, first + i, res.log_phat->data[i], err);
    if (t->ntensors > 0) {
        fivo_tensor *loss = shard_loss(s->ctx, &res, b, t->batch_size, t->normalize);
        if ((st = fivo_ctx_backward(s->ctx, loss, err)) != FIVO_OK)
            return st;
    }
    if (t->exact &&
        (st = fivo_model_log_likelihood(&s->model, b, t->ll + first, err)) != FIVO_OK)
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
    return run_shard(t, s, step, &batch, 0, &t->resample_rate, err);
}

/* Own shards: compute each, set its gradient aside, note the exponents. */
static fivo_status local_shards(fivo_trainer *t, fivo_session *s, long step, fivo_error *err)
{
    fivo_batch full;
    fivo_status st = get_batch(t, s, step, &full, err);
    if (st != FIVO_OK)
        return st;
    note_lengths(t, &full);
    for (int i = 0; i < t->ntensors; i++)
        t->exps[1 + i] = FIVO_FIXED_EXP_ZERO;
    for (int j = 0; j < t->num_local; j++) {
        int first, count;
        fivo_shard_range(t->batch_size, t->shards, t->first_shard + j, &first, &count);
        fivo_batch b;
        if ((st = fivo_shard_slice(&full, first, count, &t->buf, &b, err)) != FIVO_OK)
            return st;
        double rate;
        if ((st = run_shard(t, s, step, &b, first, &rate, err)) != FIVO_OK)
            return fivo_error_prefix(err, "shard %d: ", t->first_shard + j);
        float *g = t->grads + (size_t)j * t->nvalues;
        for (int i = 0; i < t->ntensors; i++) {
            const char *name;
            fivo_tensor *p = fivo_params_at(s->params, i, &name);
            size_t n = fivo_tensor_size(p);
            for (size_t k = 0; k < n; k++)
                if (!isfinite(p->grad[k]))
                    return fivo_error_set(err, FIVO_ERR_NUMERIC,
                                          "shard %d: gradient of %s is not finite (NaN or inf)",
                                          t->first_shard + j, name);
            int32_t e = fivo_fixed_max_exponent(p->grad, n);
            if (e > t->exps[1 + i])
                t->exps[1 + i] = e;
            memcpy(g, p->grad, sizeof(float) * n);
            memset(p->grad, 0, sizeof(float) * n);
            g += n;
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
        for (int i = 0; i < n; i++) {
            t->mine[3 * i] = (double)t->log_phat[first + i];
            t->mine[3 * i + 1] = t->exact ? t->ll[first + i] : 0.0;
            t->mine[3 * i + 2] = (double)t->resampled[first + i];
        }
        double *all = NULL;
        int n_all = 0;
        fivo_status st = fivo_comm_gather_doubles(t->mine, 3 * n, &all, &n_all, err);
        if (st != FIVO_OK)
            return st;
        if (n_all != 3 * t->batch_size) {
            free(all);
            return fivo_error_set(err, FIVO_ERR_INVALID, "gathered %d results for %d sequences",
                                  n_all / 3, t->batch_size);
        }
        for (int b = 0; b < t->batch_size; b++) {
            t->log_phat[b] = (float)all[3 * b]; /* a float sent as a double: exact */
            t->ll[b] = all[3 * b + 1];
            t->resampled[b] = (int32_t)all[3 * b + 2];
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
