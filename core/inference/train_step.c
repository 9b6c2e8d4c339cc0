/* One training step in fixed shards, on one process or over MPI ranks (see
 * fivo/train_step.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/internal/comm.h>
#include <fivo/train_step.h>
#include <fivo/internal/shards.h>
#include <fivo/internal/threads.h>

#include "ctx_internal.h" /* fivo__ctx_set_helpers */
#include "numeric_guard.h"
#include "train_reduce.h"

/* NULL in production; a test library sets it (fivo_train_set_test_hook). */
static fivo_train_test_hook test_hook;

void fivo_train_set_test_hook(fivo_train_test_hook hook)
{
    test_hook = hook;
}

/* Shard thread k's context: the session's for k = 0, replica k's after. */
static fivo_ctx *worker_ctx(fivo_trainer *t, int k)
{
    return k == 0 ? t->set.unit.ctx : t->replicas[k - 1].ctx;
}

/* W threads for this rank's shards: replicas for threads 1..W-1 (thread
 * 0 computes on the session itself), whose contexts, like the session's
 * from now on, run on one thread. */
static fivo_status open_workers(fivo_trainer *t, int w, fivo_error *err)
{
    t->replicas = calloc((size_t)w - 1, sizeof *t->replicas);
    t->replica_handles = calloc((size_t)w - 1, sizeof *t->replica_handles);
    t->bufs = calloc((size_t)w - 1, sizeof *t->bufs);
    if (t->replicas == NULL || t->replica_handles == NULL || t->bufs == NULL) {
        fivo_trainer_close(t);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory for %d shard threads", w);
    }
    const fivo_train_replicas *r = &t->set.replicas;
    if (r->open == NULL) {
        fivo_trainer_close(t);
        return fivo_error_set(err, FIVO_ERR_INVALID, "%d shard threads but no way to open replicas",
                              w);
    }
    for (; t->workers < w; t->workers++)
        if (r->open(r->user, &t->replicas[t->workers - 1], &t->replica_handles[t->workers - 1],
                    err) != FIVO_OK) {
            fivo_status st = fivo_error_prefix(err, "shard thread %d: ", t->workers);
            fivo_trainer_close(t);
            return st;
        }
    fivo_status st = FIVO_OK;
    if ((t->pool = fivo_threads_new(w, err)) == NULL)
        st = err->code != FIVO_OK ? err->code : FIVO_ERR_NOMEM;
    else
        st = fivo_ctx_set_threads(t->set.unit.ctx, 1, err);
    if (st != FIVO_OK) {
        fivo_trainer_close(t);
        return st;
    }
    /* A thread out of shards helps with the products of those still running
     * (the longest sequence's shard runs alone at the end of a step). */
    for (int k = 0; k < w; k++)
        fivo__ctx_set_helpers(worker_ctx(t, k), t->pool);
    return FIVO_OK;
}

/* [train] use_resampling_grads: a recorder around each shard thread's
 * resampler, the baseline parameter (FIVO_TRAIN_RGRADS_BASELINE, which the
 * caller registered), the rewards. */
static fivo_status open_rgrads(fivo_trainer *t, fivo_error *err)
{
    fivo_tensor *base = fivo_params_find(t->set.unit.params, FIVO_TRAIN_RGRADS_BASELINE);
    t->rgrads = calloc((size_t)t->workers, sizeof *t->rgrads);
    if (base == NULL || t->rgrads == NULL) {
        fivo_trainer_close(t);
        return fivo_error_set(err, base == NULL ? FIVO_ERR_INVALID : FIVO_ERR_NOMEM,
                              "[train] use_resampling_grads: %s",
                              base == NULL ? "no baseline parameter" : "out of memory");
    }
    t->baseline = base->data;
    t->baseline_len = base->cols;
    t->rgrads_decay = t->set.resampling_grads_decay;
    t->rewards = calloc((size_t)t->batch_size * (size_t)t->baseline_len, sizeof *t->rewards);
    for (int w = 0; t->rewards != NULL && w < t->workers; w++) {
        const fivo_resampler *r = w == 0 ? t->set.unit.resampler : t->replicas[w - 1].resampler;
        if ((t->rgrads[w] = fivo_resampling_grads_new(r, err)) == NULL)
            break;
    }
    if (t->rewards == NULL || t->rgrads[t->workers - 1] == NULL) {
        fivo_status st = t->rewards == NULL
                             ? fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory")
                             : (err->code != FIVO_OK ? err->code : FIVO_ERR_NOMEM);
        fivo_trainer_close(t);
        (void)fivo_error_prefix(err, "[train] use_resampling_grads: ");
        return st;
    }
    return FIVO_OK;
}

/* Room in every shard buffer for a shard of the split's longest sequences
 * (MuseData, batch 4, one sequence per shard: 62 faults per step over steps
 * 10-40 as the buffers grew with each longer shard). Without the split's
 * facts the buffers grow as they go. */
static void reserve_shard_buffers(fivo_trainer *t)
{
    fivo_dataset_info info;
    fivo_error ignored;
    if (t->shards == 1 || t->set.dataset == NULL ||
        fivo_dataset_get_info(t->set.dataset, &info, &ignored) != FIVO_OK || info.max_len < 1)
        return;
    size_t rows = (size_t)((t->batch_size + t->shards - 1) / t->shards);
    size_t values = (size_t)info.max_len * rows * (size_t)info.dim;
    t->buf.reserve_values = values;
    for (int w = 0; w + 1 < t->workers; w++)
        t->bufs[w].reserve_values = values;
}

fivo_status fivo_trainer_open(fivo_trainer *t, const fivo_train_setup *set, fivo_error *err)
{
    memset(t, 0, sizeof *t);
    t->set = *set;
    t->ranks = fivo_comm_size();
    t->rank = fivo_comm_rank();
    t->shards = set->shards;
    t->num_local = t->shards / t->ranks;
    t->first_shard = t->rank * t->num_local;
    t->exact = FIVO_MODEL_HAS(set->unit.model, log_likelihood);
    t->ntensors = fivo_params_count(set->unit.params);
    t->nvalues = fivo_params_num_values(set->unit.params);
    t->batch_size = set->batch_size;
    size_t B = (size_t)set->batch_size;
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
        t->shard_order = calloc((size_t)t->num_local, sizeof *t->shard_order);
        ok = t->shard_exps && t->shard_status && t->shard_err && t->shard_order;
    }
    if (!ok) {
        int shards = t->shards;
        size_t nvalues = t->nvalues;
        fivo_trainer_close(t);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory for %d shards of %zu parameters",
                              shards, nvalues);
    }
    t->workers = 1;
    int threads = set->threads;
    fivo_status st = FIVO_OK;
    if (t->shards > 1 && t->num_local > 1 && threads > 1 &&
        (st = open_workers(t, threads < t->num_local ? threads : t->num_local, err)) != FIVO_OK)
        return st;
    reserve_shard_buffers(t);
    return set->resampling_grads ? open_rgrads(t, err) : FIVO_OK;
}

void fivo_trainer_close(fivo_trainer *t)
{
    for (int w = 0; t->rgrads != NULL && w < t->workers; w++)
        fivo_resampling_grads_free(t->rgrads[w]);
    free(t->rgrads);
    free(t->rewards);
    for (int k = 0; t->pool != NULL && k < t->workers; k++)
        fivo__ctx_set_helpers(worker_ctx(t, k), NULL);
    fivo_threads_free(t->pool);
    for (int w = 0; w + 1 < t->workers && t->replicas != NULL; w++) {
        t->set.replicas.close(t->set.replicas.user, t->replica_handles[w]);
        fivo_shard_buffer_free(&t->bufs[w]);
    }
    free(t->replicas);
    free(t->replica_handles);
    free(t->bufs);
    free(t->shard_exps);
    free(t->shard_status);
    free(t->shard_err);
    free(t->shard_order);
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

static fivo_status get_batch(fivo_trainer *t, long step, fivo_batch *batch, fivo_error *err)
{
    if (test_hook != NULL) {
        fivo_status st = test_hook(FIVO_TRAIN_AT_BATCH, t, step, NULL, err);
        if (st != FIVO_OK)
            return st;
    }
    fivo_status st = fivo_dataset_read_batch(t->set.dataset, t->batch_size, true, t->set.seed,
                                             (uint64_t)step, batch, err);
    if (st == FIVO_END)
        return fivo_error_set(err, FIVO_ERR_FORMAT, "dataset '%s' ended a shuffled stream",
                              t->set.dataset_name);
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

/* What computes a shard: the caller's own objects, or a replica's. */
typedef struct shard_exec {
    fivo_params *params;
    fivo_model *model;
    fivo_bound *bound;
    fivo_resampler *resampler;
    fivo_ctx *ctx;
    fivo_shard_buffer *buf;
    fivo_resampling_grads *rg; /* NULL unless use_resampling_grads */
} shard_exec;

static shard_exec exec_of(fivo_trainer *t, int w)
{
    fivo_resampling_grads *rg = t->rgrads != NULL ? t->rgrads[w] : NULL;
    const fivo_train_unit *u = w == 0 ? &t->set.unit : &t->replicas[w - 1];
    return (shard_exec){u->params, u->model, u->bound, u->resampler, u->ctx,
                        w == 0 ? &t->buf : &t->bufs[w - 1], rg};
}

/* The caller's parameter values into replica w's (same registration order). */
static void sync_replica(fivo_trainer *t, int w)
{
    const fivo_params *from = t->set.unit.params;
    fivo_params *to = t->replicas[w - 1].params;
    for (int i = 0; i < fivo_params_count(from); i++) {
        const fivo_tensor *x = fivo_params_at(from, i, NULL);
        memcpy(fivo_params_at(to, i, NULL)->data, x->data, sizeof(float) * fivo_tensor_size(x));
    }
}

/* Bound, finite check, backward and exact likelihood of one shard; its
 * per-sequence results go to t's global arrays at `first`. `lead`: the
 * rank's first shard, which names the bound's metrics. */
static fivo_status run_shard(fivo_trainer *t, const shard_exec *e, long step,
                             const fivo_batch *b, int first, bool lead, double *resample_rate,
                             fivo_error *err)
{
    fivo_ctx_reset(e->ctx);
    fivo_ctx_set_seed(e->ctx, t->set.seed, FIVO_RNG_DOMAIN_TRAIN + (uint64_t)step);
    fivo_smc_result res;
    const fivo_resampler *rs = e->rg != NULL ? fivo_resampling_grads_resampler(e->rg) : e->resampler;
    fivo_status st = fivo_bound_compute(e->bound, e->ctx, e->model, rs, b, t->set.num_samples, &res,
                                        err);
    if (st != FIVO_OK)
        return fivo_numeric_explain(e->params, st, err); /* names a NaN parameter */
    if (test_hook != NULL && (st = test_hook(FIVO_TRAIN_AT_BOUND, t, step, &res, err)) != FIVO_OK)
        return st;
    /* Before any update: a non-finite bound stops the run untouched. */
    for (int i = 0; i < b->batch_size; i++)
        if (!isfinite(res.log_phat->data[i]))
            return fivo_numeric_nonfinite_bound(e->params, first + i, res.log_phat->data[i], err);
    fivo_tensor *extra = NULL;
    fivo_bound_metric met[FIVO_BOUND_MAX_METRICS];
    int nmet = 0;
    if ((st = fivo_bound_train_loss(e->bound, e->ctx, b, &extra, met, &nmet, err)) != FIVO_OK)
        return st;
    if (e->rg != NULL) {
        /* The score term: the loss gains -score (per sequence, weighted as
         * -log p-hat), so extra becomes extra - score. */
        fivo_tensor *score = NULL;
        st = fivo_resampling_grads_finish(e->rg, e->ctx, b, &res, t->baseline, t->baseline_len,
                                          &score, t->rewards + (size_t)first * (size_t)t->baseline_len,
                                          t->baseline_len, err);
        if (st != FIVO_OK)
            return fivo_error_prefix(err, "[train] use_resampling_grads: ");
        extra = extra != NULL ? fivo_sub(e->ctx, extra, score) : fivo_scale(e->ctx, score, -1.0f);
    }
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
        fivo_tensor *loss = shard_loss(e->ctx, &res, extra, b, t->batch_size, t->set.normalize);
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
static fivo_status plain_step(fivo_trainer *t, long step, fivo_error *err)
{
    fivo_batch batch;
    fivo_status st = get_batch(t, step, &batch, err);
    if (st != FIVO_OK)
        return st;
    note_lengths(t, &batch);
    shard_exec e = exec_of(t, 0);
    return run_shard(t, &e, step, &batch, 0, true, &t->resample_rate, err);
}

/* Own shard j (0-based among this rank's) on e: compute it, set its
 * gradient aside in slot j, note its exponents, zero e's gradients. */
static fivo_status own_shard(fivo_trainer *t, const shard_exec *e, long step,
                             const fivo_batch *full, int j, fivo_error *err)
{
    int first, count;
    fivo_shard_range(t->batch_size, t->shards, t->first_shard + j, &first, &count);
    fivo_batch b;
    fivo_status st = fivo_shard_slice(full, first, count, e->buf, &b, err);
    if (st != FIVO_OK)
        return st;
    double rate;
    if ((st = run_shard(t, e, step, &b, first, j == 0, &rate, err)) != FIVO_OK)
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
    long step;
    const fivo_batch *full;
} shards_job;

/* Piece w computes on replica w (one thread at a time per replica) the
 * shards it takes from the queue, longest first: with shard j on thread
 * j mod W, two long sequences on one thread left the other idle (JSB,
 * batch 4, 2 cores: 1.41-1.58x one thread). A shard's result does not
 * depend on the replica that computes it, so the bits stay the same. */
static void shards_piece(void *arg, int w)
{
    const shards_job *job = arg;
    fivo_trainer *t = job->t;
    shard_exec e = exec_of(t, w);
    for (;;) {
        int k = __atomic_fetch_add(&t->next_shard, 1, __ATOMIC_RELAXED);
        if (k >= t->num_local)
            break;
        int j = t->shard_order[k];
        t->shard_err[j].code = FIVO_OK;
        t->shard_err[j].message[0] = '\0';
        t->shard_status[j] = own_shard(t, &e, job->step, job->full, j, &t->shard_err[j]);
    }
}

/* Own shard k's work this step: it runs to its longest sequence, so rows
 * x that length. */
static int64_t shard_work(const fivo_trainer *t, const fivo_batch *full, int k)
{
    int first, count;
    fivo_shard_range(t->batch_size, t->shards, t->first_shard + k, &first, &count);
    int64_t longest = 0;
    for (int b = first; b < first + count; b++)
        longest = full->lengths[b] > longest ? full->lengths[b] : longest;
    return longest * count;
}

/* This step's own shards, most work first, ties in shard order (insertion:
 * a rank's shards are few, one per sequence by default). */
static void order_shards(fivo_trainer *t, const fivo_batch *full)
{
    for (int k = 0; k < t->num_local; k++) {
        int64_t work = shard_work(t, full, k);
        int at = k;
        while (at > 0 && shard_work(t, full, t->shard_order[at - 1]) < work) {
            t->shard_order[at] = t->shard_order[at - 1];
            at--;
        }
        t->shard_order[at] = k;
    }
    t->next_shard = 0;
}

/* Own shards: compute each (on the shard threads when there are several),
 * then take each tensor's largest exponent; the first failed shard in
 * shard order is the one reported, whatever the thread count. */
static fivo_status local_shards(fivo_trainer *t, long step, fivo_error *err)
{
    fivo_batch full;
    fivo_status st = get_batch(t, step, &full, err);
    if (st != FIVO_OK)
        return st;
    note_lengths(t, &full);
    for (int w = 1; w < t->workers; w++)
        sync_replica(t, w);
    order_shards(t, &full);
    shards_job job = {t, step, &full};
    fivo_threads_run_helped(t->pool, t->workers, shards_piece, &job);
    for (int j = 0; j < t->num_local; j++)
        if (t->shard_status[j] != FIVO_OK) {
            *err = t->shard_err[j];
            return t->shard_status[j];
        }
    fivo_train_reduce_exponents(t->shard_exps, t->num_local, t->ntensors, t->exps + 1);
    return FIVO_OK;
}

/* After a step: the baseline moves towards the batch's mean rewards (the
 * step's loss used the value from before). */
static fivo_status move_baseline(fivo_trainer *t, fivo_status st)
{
    if (st == FIVO_OK && t->rgrads != NULL)
        fivo_resampling_grads_update_baseline(t->baseline, t->baseline_len, t->rewards,
                                              t->batch_size, t->baseline_len, t->rgrads_decay);
    return st;
}

fivo_status fivo_trainer_step(fivo_trainer *t, long step, fivo_status pending, bool *stop,
                              fivo_error *err)
{
    if (t->shards == 1 && t->ranks == 1)
        return move_baseline(t, pending != FIVO_OK ? pending : plain_step(t, step, err));

    fivo_status st = pending != FIVO_OK ? pending : local_shards(t, step, err);
    if (st != FIVO_OK)
        fivo_params_zero_grad(t->set.unit.params);
    t->exps[0] = *stop ? 1 : 0;
    st = fivo_comm_agree(st, err, t->exps, 1 + t->ntensors);
    *stop = t->exps[0] != 0;
    if (st != FIVO_OK)
        return st;

    /* Exact sum of every shard's gradient, the same on every rank. */
    st = fivo_train_reduce_gradients(t->set.unit.params, t->grads, t->num_local, t->exps + 1,
                                     t->shards, t->acc, t->pool, err);
    return move_baseline(t, st != FIVO_OK ? st : fivo_trainer_gather(t, err));
}
