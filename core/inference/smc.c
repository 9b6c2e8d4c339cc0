/* The SMC engine behind every bound (see fivo/smc.h and DESIGN.md).
 *
 * Semantics follow the reference's smc.smc(): incremental log weights are
 * masked to 0 past each sequence's end and accumulated per particle; the
 * criterion looks at the accumulated weights; a filter resamples only while
 * its sequence is running; log Z-hat gains logsumexp(w) - log N at every
 * resampling step, after which that filter's weights restart at 0, and once
 * more at the sequence's last step if it did not resample there. (The
 * reference adds the final update at the batch's last step; since masked
 * weights stop changing after a sequence ends the per-sequence value is the
 * same.) Ancestor indices carry no gradient: resampling gathers rows.
 *
 * With a memory budget (fivo_ctx_set_memory_budget) the loop keeps the tape
 * for one segment of steps at a time: a segment ends once its arena use
 * passes 7/16 of what the budget leaves after what the run made before its
 * steps (backward about doubles it), the carried values (state rows,
 * log weights, log p-hat) are copied to the side region and the segment's
 * memory is released. One tape node then stands for the whole loop; its
 * backward recomputes each segment's forward from its checkpoint, last
 * segment first, seeds the outputs' gradients (the later segment's input
 * gradients, or the loss's on log p-hat), runs that segment's tape backward
 * and releases it. The recomputed steps draw the same random numbers (the
 * streams are keyed by step) and run the same ops on the same bits, and the
 * weight-gradient chunks are cut as in one flush, so the gradients are
 * bit-identical to the whole tape's (with the whole-batch encoding),
 * whatever the segment length.
 *
 * What set_observations makes once for all steps (a model's encoded
 * observations) is O(T) and outside the segments: for a batch that will be
 * cut, a model with set_observations_stepwise encodes each step in that
 * step instead (stepwise_wanted), so training memory is the state's; the
 * gradients are then the whole tape's up to float rounding, and the same
 * bits for any segment length or thread count.
 *
 * Without a tape (eval, sample's prefix) the same release runs with no
 * checkpoints kept: the carried values cross it (carry_over) and nothing
 * else of a finished step is needed, so the values are today's bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/plugin_bound.h>
#include <fivo/smc.h>
#include <fivo/weights.h>

#include "ctx_internal.h" /* segments: marks, releases, the side region */

/* Without a budget, eval releases the steps' memory each time it passes
 * this: small enough to stay near the cache, large enough that the
 * per-release copies and re-made transposes cost nothing measurable. */
#define FIVO_SMC_NOGRAD_SPAN ((size_t)8 << 20)

fivo_status fivo_criterion_parse(const char *text, fivo_criterion *out, fivo_error *err)
{
    if (text != NULL && strcmp(text, "ess") == 0)
        *out = FIVO_RESAMPLE_ESS;
    else if (text != NULL && strcmp(text, "always") == 0)
        *out = FIVO_RESAMPLE_ALWAYS;
    else if (text != NULL && strcmp(text, "never") == 0)
        *out = FIVO_RESAMPLE_NEVER;
    else
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "resampling criterion '%s': expected one of ess, always, never",
                              text != NULL ? text : "(null)");
    return FIVO_OK;
}

/* Everything one run needs besides the tape, carved from the arena once. */
typedef struct smc_work {
    int N, B, T, R;
    uint8_t *active;     /* [R]: t < length of the row's sequence */
    uint8_t *add;        /* [B]: log Z-hat gains an update at this step */
    uint8_t *res;        /* [B]: filter resamples at this step */
    uint8_t *reset;      /* [R]: row of a filter that resampled */
    int32_t *index;      /* [R]: gather index (non-resampling rows map to themselves) */
    int32_t *filter_rows;/* [N]: rows p * B + b of one filter */
    int32_t *ancestors;  /* [N] */
    double *lw;          /* [N] */
    fivo_tensor **blend; /* [B]: relaxed blend matrices (NULL where not resampled) */
    fivo_tensor **parts; /* [B] */
    fivo_tensor **lw_new;/* [B]: resample_weighted's restart weights (NULL: zeros) */
} smc_work;

static fivo_status seq_error(fivo_error *err, const fivo_batch *batch, int t, int b)
{
    if (batch->seq_ids != NULL)
        return fivo_error_prefix(err, "step %d, sequence %d (batch row %d): ", t,
                                 (int)batch->seq_ids[b], b);
    return fivo_error_prefix(err, "step %d, sequence %d: ", t, b);
}

static fivo_status check_args(const fivo_model *model, const fivo_batch *batch,
                              const fivo_smc_options *opts, fivo_error *err)
{
    if (model == NULL || model->vt == NULL || batch == NULL || opts == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "smc: model, batch and options are required");
    if (!FIVO_MODEL_HAS(model, set_observations) || !FIVO_MODEL_HAS(model, zero_state) ||
        !FIVO_MODEL_HAS(model, propose_and_weight))
        return fivo_error_set(err, FIVO_ERR_ABI,
                              "smc: model '%s' lacks set_observations, zero_state or "
                              "propose_and_weight",
                              model->name != NULL ? model->name : "?");
    if (opts->num_particles < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "smc: num_particles = %d, expected >= 1",
                              opts->num_particles);
    if (batch->batch_size < 1 || batch->max_len < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "smc: empty batch (%d sequences, %d steps)",
                              batch->batch_size, batch->max_len);
    if ((int64_t)opts->num_particles * batch->batch_size > FIVO_SMC_MAX_ROWS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "smc: %d particles x %d sequences is too many",
                              opts->num_particles, batch->batch_size);
    for (int b = 0; b < batch->batch_size; b++)
        if (batch->lengths[b] < 0 || batch->lengths[b] > batch->max_len)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "smc: sequence %d has length %d, outside [0, %d]", b,
                                  (int)batch->lengths[b], batch->max_len);
    if (opts->criterion != FIVO_RESAMPLE_NEVER && opts->criterion != FIVO_RESAMPLE_ALWAYS &&
        opts->criterion != FIVO_RESAMPLE_ESS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "smc: unknown criterion %d",
                              (int)opts->criterion);
    if (opts->criterion == FIVO_RESAMPLE_ESS &&
        !(opts->ess_threshold >= 0.0 && opts->ess_threshold <= 1.0))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "smc: ess_threshold = %g, expected a number in [0, 1]",
                              opts->ess_threshold);
    if (opts->criterion != FIVO_RESAMPLE_NEVER) {
        const fivo_resampler *r = opts->resampler;
        if (r == NULL || r->vt == NULL ||
            (!FIVO_RESAMPLER_HAS(r, resample) && !FIVO_RESAMPLER_HAS(r, resample_relaxed) &&
             !FIVO_RESAMPLER_HAS(r, resample_weighted) &&
             !FIVO_RESAMPLER_HAS(r, resample_transport)))
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "smc: criterion '%s' needs a resampler with resample, "
                                  "resample_relaxed, resample_weighted or resample_transport",
                                  opts->criterion == FIVO_RESAMPLE_ESS ? "ess" : "always");
    }
    return FIVO_OK;
}

static fivo_status check_state(const fivo_state *s, int rows, const char *what, int t,
                               fivo_error *err)
{
    if (s->count < 1 || s->count > FIVO_STATE_MAX)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s at step %d: state has %d tensors", what,
                              t, s->count);
    for (int k = 0; k < s->count; k++)
        if (s->t[k] == NULL || s->t[k]->rows != rows)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "%s at step %d: state tensor %d has %d rows, expected %d", what,
                                  t, k, s->t[k] != NULL ? s->t[k]->rows : -1, rows);
    return FIVO_OK;
}

/* Relaxed resampling: every state tensor's filter b becomes A_b x (its N
 * rows). Row p of concat_cols(part_0 .. part_{B-1}) is exactly the rows
 * p * B + 0 .. p * B + B - 1 of the particle-major layout, so a reshape puts
 * the blended particles back in place. */
static fivo_tensor *blend_rows(fivo_ctx *ctx, const fivo_tensor *x, smc_work *w)
{
    for (int b = 0; b < w->B; b++) {
        for (int p = 0; p < w->N; p++)
            w->filter_rows[p] = p * w->B + b;
        fivo_tensor *rows = fivo_gather_rows(ctx, x, w->filter_rows, w->N);
        w->parts[b] = w->blend[b] != NULL ? fivo_matmul(ctx, w->blend[b], false, rows, false) : rows;
    }
    fivo_tensor *cat = w->B == 1 ? w->parts[0]
                                 : fivo_concat_cols(ctx, w->B, (const fivo_tensor *const *)w->parts);
    return fivo_reshape(ctx, cat, w->R, x->cols);
}

/* The R x 1 restart weights after resample_weighted: filter b's rows take
 * lw_new[b], the others 0 (only rows that resampled are read). */
static fivo_tensor *restart_weights(fivo_ctx *ctx, const fivo_tensor *zeros_n, smc_work *w)
{
    for (int b = 0; b < w->B; b++)
        w->parts[b] = w->lw_new[b] != NULL ? w->lw_new[b] : (fivo_tensor *)zeros_n;
    fivo_tensor *cat = w->B == 1 ? w->parts[0]
                                 : fivo_concat_cols(ctx, w->B, (const fivo_tensor *const *)w->parts);
    return fivo_reshape(ctx, cat, w->R, 1);
}

/* The n rows of filter b of every state tensor, side by side: what
 * resample_transport measures distances on. */
static fivo_tensor *filter_particles(fivo_ctx *ctx, const fivo_state *s, smc_work *w)
{
    fivo_tensor *cols[FIVO_STATE_MAX];
    for (int k = 0; k < s->count; k++)
        cols[k] = fivo_gather_rows(ctx, s->t[k], w->filter_rows, w->N);
    return s->count == 1 ? cols[0] : fivo_concat_cols(ctx, s->count, (const fivo_tensor *const *)cols);
}


/* The carried values at a segment's start, frozen in the side region. */
typedef struct smc_frozen {
    int rows, cols;
    uint32_t flags;
    float *data;
} smc_frozen;

typedef struct smc_ckpt {
    int count;
    smc_frozen st[FIVO_STATE_MAX], lw, phat;
} smc_ckpt;

/* The resampler slot a run draws with, by the precedence of
 * fivo/plugin_resampler.h: transport, relaxed, weighted, plain. */
typedef enum smc_path {
    SMC_PATH_HARD,      /* resample: ancestors */
    SMC_PATH_WEIGHTED,  /* resample_weighted: ancestors and restart weights */
    SMC_PATH_RELAXED,   /* resample_relaxed: a blend matrix */
    SMC_PATH_TRANSPORT, /* resample_transport: a blend from the particles */
} smc_path;

/* One run: what the steps need, kept in the arena's prefix so the
 * checkpoint node's backward can replay steps after fivo_smc_run returned. */
typedef struct smc_run {
    fivo_model model; /* copies: the caller's may live on its stack */
    fivo_batch batch;
    fivo_smc_options opts;
    smc_path path; /* how a filter resamples: one of four resampler slots */
    double log_n, log_ess_min;
    smc_work w;
    uint32_t *keys;
    fivo_tensor *zeros_r, *zeros_b, *zeros_n;
    fivo_smc_result *out; /* NULL while replaying */
    int64_t valid_steps, resample_steps, var_count;
    double var_sum;
    /* carried through the steps */
    fivo_state state, state0;
    fivo_tensor *log_w, *log_phat;
    /* segments: [seg_start[s], seg_start[s + 1]); ckpt[s] for s >= 1 */
    int nseg;
    int *seg_start;
    smc_ckpt *ckpt;
    fivo_tensor *phat_out; /* the checkpoint node's output */
    /* without a tape: where the carried values wait out a release */
    float *carry;
    size_t carry_cap;
} smc_run;

static void set_keys(fivo_ctx *ctx, const smc_run *r)
{
    fivo_ctx_set_row_keys(ctx, r->batch.seq_ids != NULL ? r->keys : NULL, r->w.R);
}

/* Proposes step t from r's state: the next state and the R x 1
 * incremental log weights, checked. */
static fivo_status propose(fivo_ctx *ctx, smc_run *r, int t, fivo_state *next, fivo_tensor **alpha,
                           fivo_error *err)
{
    const fivo_model *model = &r->model;
    const int R = r->w.R;
    memset(next, 0, sizeof *next);
    *alpha = NULL;
    fivo_status st = fivo_model_propose_and_weight(model, ctx, &r->state, t, next, alpha, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' at step %d: ", model->name, t);
    if ((st = fivo_ctx_status(ctx, err)) != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' at step %d: ", model->name, t);
    const fivo_tensor *a = *alpha;
    if (a == NULL || a->rows != R || a->cols != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "model '%s' at step %d: log weight is %d x %d, expected %d x 1",
                              model->name, t, a ? a->rows : -1, a ? a->cols : -1, R);
    return check_state(next, R, "propose_and_weight", t, err);
}

/* The carried log weights plus alpha, masked past each sequence's end. */
static fivo_tensor *add_weights(fivo_ctx *ctx, smc_run *r, smc_work *w, int t, fivo_tensor *alpha)
{
    bool all_active = true;
    for (int p = 0; p < w->N; p++)
        for (int b = 0; b < w->B; b++) {
            uint8_t a = t < r->batch.lengths[b];
            w->active[p * w->B + b] = a;
            all_active = all_active && a;
        }
    return fivo_add(ctx, r->log_w,
                    all_active ? alpha : fivo_select_rows(ctx, w->active, alpha, r->zeros_r));
}

/* Variance of one filter's log weights over its particles (normalisation
 * is a shift, so it does not change it); finite ones only. */
static void note_variance(smc_run *r, const double *lw, int N)
{
    double m = 0.0, s2 = 0.0;
    int nf = 0;
    for (int p = 0; p < N; p++)
        if (isfinite(lw[p])) {
            nf++;
            double d = lw[p] - m;
            m += d / nf;
            s2 += d * (lw[p] - m);
        }
    r->var_sum += s2 / nf;
    r->var_count++;
}

/* Filter b's draw by the run's resampling path: a blend matrix
 * (transport, relaxed) or ancestors into w->index (weighted, with restart
 * weights; hard). */
static fivo_status draw(fivo_ctx *ctx, smc_run *r, smc_work *w, fivo_tensor *log_w,
                        const fivo_state *next, int b, fivo_rng *rng, fivo_error *err)
{
    const int N = w->N, B = w->B;
    const fivo_resampler *resampler = r->opts.resampler;
    const fivo_batch *batch = &r->batch;
    uint32_t key = batch->seq_ids != NULL ? (uint32_t)batch->seq_ids[b] : (uint32_t)b;
    fivo_tensor *lwb = NULL;
    if (r->path != SMC_PATH_HARD) {
        for (int p = 0; p < N; p++)
            w->filter_rows[p] = p * B + b;
        lwb = fivo_gather_rows(ctx, log_w, w->filter_rows, N);
    }
    fivo_status st = FIVO_OK;
    switch (r->path) {
    case SMC_PATH_TRANSPORT:
    case SMC_PATH_RELAXED:
        st = r->path == SMC_PATH_TRANSPORT
                 ? fivo_resampler_resample_transport(resampler, ctx, lwb,
                                                     filter_particles(ctx, next, w), rng, key,
                                                     &w->blend[b], err)
                 : fivo_resampler_resample_relaxed(resampler, ctx, lwb, rng, key, &w->blend[b],
                                                   err);
        if (st == FIVO_OK &&
            (w->blend[b] == NULL || w->blend[b]->rows != N || w->blend[b]->cols != N))
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "resampler '%s' returned a blend that is not %d x %d",
                                resampler->name, N, N);
        return st;
    case SMC_PATH_WEIGHTED:
        st = fivo_resampler_resample_weighted(resampler, ctx, lwb, w->lw, rng, key, w->ancestors,
                                              &w->lw_new[b], err);
        if (st == FIVO_OK &&
            (w->lw_new[b] == NULL || w->lw_new[b]->rows != N || w->lw_new[b]->cols != 1))
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "resampler '%s' returned restart weights that are not %d x 1",
                                resampler->name, N);
        break;
    case SMC_PATH_HARD:
        st = fivo_resampler_resample(resampler, w->lw, N, rng, key, w->ancestors, err);
        break;
    }
    for (int p = 0; st == FIVO_OK && p < N; p++) {
        if (w->ancestors[p] < 0 || w->ancestors[p] >= N)
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "resampler '%s' returned ancestor %d outside [0, %d)",
                                resampler->name, (int)w->ancestors[p], N);
        else
            w->index[p * B + b] = w->ancestors[p] * B + b;
    }
    return st;
}

/* Filter b at step t: its weights checked, diagnostics, the criterion, and
 * its draw when it resamples (w->res[b]); w->add[b]: log Z-hat takes this
 * step's term (resampled or ending). */
static fivo_status filter_step(fivo_ctx *ctx, smc_run *r, smc_work *w, fivo_tensor *log_w,
                               const fivo_state *next, int t, int b, bool replay, fivo_rng *rng,
                               fivo_error *err)
{
    const int N = w->N, B = w->B;
    const fivo_batch *batch = &r->batch;
    const fivo_smc_options *opts = &r->opts;
    w->add[b] = 0;
    w->res[b] = 0;
    w->blend[b] = NULL;
    if (r->path == SMC_PATH_WEIGHTED)
        w->lw_new[b] = NULL;
    for (int p = 0; p < N; p++)
        w->index[p * B + b] = p * B + b;
    if (t >= batch->lengths[b])
        return FIVO_OK;
    for (int p = 0; p < N; p++)
        w->lw[p] = log_w->data[p * B + b];
    if (fivo_weights_check(w->lw, N, err) != FIVO_OK)
        return seq_error(err, batch, t, b);
    if (!replay) {
        r->valid_steps++;
        note_variance(r, w->lw, N);
    }
    bool resample = opts->criterion == FIVO_RESAMPLE_ALWAYS ||
                    (opts->criterion == FIVO_RESAMPLE_ESS &&
                     fivo_weights_log_ess(w->lw, N) <= r->log_ess_min);
    w->res[b] = resample;
    w->add[b] = resample || t == batch->lengths[b] - 1;
    if (!resample)
        return FIVO_OK;
    if (!replay)
        r->resample_steps++;
    if (draw(ctx, r, w, log_w, next, b, rng, err) != FIVO_OK)
        return seq_error(err, batch, t, b);
    return FIVO_OK;
}

/* One step t of the loop, on r's carried values. replay: a segment's
 * recomputation in backward (no diagnostics, no result arrays). */
static fivo_status smc_step(fivo_ctx *ctx, smc_run *r, int t, bool replay, fivo_error *err)
{
    smc_work w = r->w;
    const int N = w.N, B = w.B, R = w.R;
    const bool blended = r->path == SMC_PATH_TRANSPORT || r->path == SMC_PATH_RELAXED;
    fivo_state next;
    fivo_tensor *alpha;
    fivo_status st = propose(ctx, r, t, &next, &alpha, err);
    if (st != FIVO_OK)
        return st;
    fivo_tensor *log_w = add_weights(ctx, r, &w, t, alpha);
    if (!replay)
        memcpy(r->out->log_weights + (size_t)t * R, log_w->data, sizeof(float) * (size_t)R);

    bool any_add = false, any_res = false;
    fivo_rng rng = fivo_ctx_rng(ctx, FIVO_RNG_RESAMPLE, (uint32_t)t);
    for (int b = 0; b < B; b++) {
        if ((st = filter_step(ctx, r, &w, log_w, &next, t, b, replay, &rng, err)) != FIVO_OK)
            return st;
        any_add = any_add || w.add[b];
        any_res = any_res || w.res[b];
    }

    /* log Z-hat += logsumexp(w) - log N where resampled or ending. */
    if (any_add) {
        fivo_tensor *upd = fivo_add_scalar(ctx, fivo_logsumexp_groups(ctx, log_w, N),
                                           (float)-r->log_n);
        r->log_phat = fivo_add(ctx, r->log_phat, fivo_select_rows(ctx, w.add, upd, r->zeros_b));
    }
    /* The resampled filters' particles reordered (or blended), their
     * weights restarted. */
    if (any_res) {
        for (int k = 0; k < next.count; k++)
            next.t[k] = blended ? blend_rows(ctx, next.t[k], &w)
                                : fivo_gather_rows(ctx, next.t[k], w.index, R);
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                w.reset[p * B + b] = w.res[b];
        log_w = fivo_select_rows(
            ctx, w.reset,
            r->path == SMC_PATH_WEIGHTED ? restart_weights(ctx, r->zeros_n, &w) : r->zeros_r, log_w);
    }
    if (!replay)
        memcpy(r->out->resampled + (size_t)t * B, w.res, (size_t)B);
    r->log_w = log_w;
    r->state = next;
    if ((st = fivo_ctx_status(ctx, err)) != FIVO_OK)
        return fivo_error_prefix(err, "smc at step %d: ", t);
    return FIVO_OK;
}

/* ---- segments --------------------------------------------------------- */

static bool freeze(fivo_ctx *ctx, const fivo_tensor *t, smc_frozen *f)
{
    f->rows = t->rows;
    f->cols = t->cols;
    f->flags = t->flags & FIVO_TENSOR_REQUIRES_GRAD;
    size_t n = fivo_tensor_size(t);
    f->data = fivo__side_alloc(ctx, n * sizeof(float));
    if (f->data == NULL)
        return false;
    memcpy(f->data, t->data, n * sizeof(float));
    return true;
}

/* A leaf in the arena with a frozen value: a segment's input. */
static fivo_tensor *thaw(fivo_ctx *ctx, const smc_frozen *f)
{
    fivo_tensor *t = fivo_tensor_from(ctx, f->rows, f->cols, f->data);
    t->flags |= f->flags;
    return t;
}

/* A frozen value as a tensor outside the tape (final state and weights). */
static fivo_tensor *frozen_tensor(fivo_ctx *ctx, const smc_frozen *f)
{
    fivo_tensor *t = fivo__side_alloc(ctx, sizeof *t);
    if (t == NULL)
        return fivo_tensor_from(ctx, f->rows, f->cols, f->data);
    memset(t, 0, sizeof *t);
    t->rows = f->rows;
    t->cols = f->cols;
    t->data = f->data;
    t->node = -1;
    return t;
}

static bool checkpoint(fivo_ctx *ctx, const smc_run *r, smc_ckpt *c)
{
    c->count = r->state.count;
    for (int k = 0; k < c->count; k++)
        if (!freeze(ctx, r->state.t[k], &c->st[k]))
            return false;
    return freeze(ctx, r->log_w, &c->lw) && freeze(ctx, r->log_phat, &c->phat);
}

static void restore(fivo_ctx *ctx, smc_run *r, const smc_ckpt *c)
{
    r->state.count = c->count;
    for (int k = 0; k < c->count; k++)
        r->state.t[k] = thaw(ctx, &c->st[k]);
    r->log_w = thaw(ctx, &c->lw);
    r->log_phat = thaw(ctx, &c->phat);
}

/* Without a tape nothing of a finished step is needed again but the carried
 * values (state rows, log weights, log p-hat): they wait in the side region
 * while the steps' memory is released, then come back as fresh arena
 * tensors with the same bits. The buffer is reused by every release. */
static bool carry_over(fivo_ctx *ctx, smc_run *r, const fivo_ctx_mark *m)
{
    fivo_tensor *v[FIVO_STATE_MAX + 2];
    int n = 0;
    for (int k = 0; k < r->state.count; k++)
        v[n++] = r->state.t[k];
    v[n++] = r->log_w;
    v[n++] = r->log_phat;
    size_t need = 0;
    for (int i = 0; i < n; i++)
        need += fivo_tensor_size(v[i]);
    if (need > r->carry_cap) {
        r->carry = fivo__side_alloc(ctx, need * sizeof(float));
        if (r->carry == NULL)
            return false;
        r->carry_cap = need;
    }
    int rows[FIVO_STATE_MAX + 2], cols[FIVO_STATE_MAX + 2];
    uint32_t flags[FIVO_STATE_MAX + 2];
    float *p = r->carry;
    for (int i = 0; i < n; i++) {
        rows[i] = v[i]->rows;
        cols[i] = v[i]->cols;
        flags[i] = v[i]->flags & FIVO_TENSOR_REQUIRES_GRAD;
        memcpy(p, v[i]->data, fivo_tensor_size(v[i]) * sizeof(float));
        p += fivo_tensor_size(v[i]);
    }
    fivo__ctx_release(ctx, m);
    p = r->carry;
    for (int i = 0; i < n; i++) {
        v[i] = fivo_tensor_from(ctx, rows[i], cols[i], p);
        v[i]->flags |= flags[i];
        p += (size_t)rows[i] * (size_t)cols[i];
    }
    for (int k = 0; k < r->state.count; k++)
        r->state.t[k] = v[k];
    r->log_w = v[n - 2];
    r->log_phat = v[n - 1];
    return true;
}

/* Seeds t's gradient with g (a later segment's gradient of its input). */
static void seed(fivo_ctx *ctx, fivo_tensor *t, const float *g)
{
    if (g == NULL || !fivo__req(t))
        return;
    size_t n = fivo_tensor_size(t);
    bool fresh;
    float *d = fivo__grad_fresh(ctx, t, &fresh);
    if (d == NULL)
        return;
    if (fresh)
        memcpy(d, g, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            d[i] += g[i];
}

/* A segment input's gradient, copied out before the release (NULL: none). */
static float *harvest(const fivo_tensor *t, float *dst)
{
    if (t->grad == NULL || dst == NULL)
        return NULL;
    memcpy(dst, t->grad, fivo_tensor_size(t) * sizeof(float));
    return dst;
}

static void segments_backward(fivo_ctx *ctx, fivo_node *n)
{
    smc_run *r = n->aux;
    const int B = r->w.B, R = r->w.R, K = r->state0.count;
    const int saved_nodes = ctx->nnodes, saved_floor = ctx->seg_floor;
    fivo_error err = {0};
    /* carried gradients: room for the largest input of each kind */
    float *cst[FIVO_STATE_MAX] = {0}, *cg_st[FIVO_STATE_MAX] = {0};
    size_t cap[FIVO_STATE_MAX] = {0};
    for (int s = 1; s < r->nseg; s++)
        for (int k = 0; k < r->ckpt[s].count; k++) {
            size_t sz = (size_t)r->ckpt[s].st[k].rows * (size_t)r->ckpt[s].st[k].cols;
            if (sz > cap[k])
                cap[k] = sz;
        }
    for (int k = 0; k < FIVO_STATE_MAX; k++)
        if (cap[k] > 0)
            cst[k] = fivo__alloc_floats(ctx, cap[k]);
    float *clw = fivo__alloc_floats(ctx, (size_t)R), *cphat = fivo__alloc_floats(ctx, (size_t)B);
    if (clw == NULL || cphat == NULL || r->phat_out->grad == NULL)
        return;
    memcpy(cphat, r->phat_out->grad, sizeof(float) * (size_t)B);
    float *g_lw = NULL, *g_phat = cphat;
    int count_out = 0;
    (void)K;
    set_keys(ctx, r);
    fivo_ctx_mark m = fivo__ctx_mark(ctx);
    ctx->seg_floor = m.nnodes;
    for (int s = r->nseg - 1; s >= 0 && ctx->status == FIVO_OK; s--) {
        if (s == 0) {
            r->state = r->state0;
            r->log_w = r->zeros_r;
            r->log_phat = r->zeros_b;
        } else {
            restore(ctx, r, &r->ckpt[s]);
        }
        fivo_state in = r->state;
        fivo_tensor *in_lw = r->log_w, *in_phat = r->log_phat;
        for (int t = r->seg_start[s]; t < r->seg_start[s + 1]; t++)
            if (smc_step(ctx, r, t, true, &err) != FIVO_OK) {
                fivo_ctx_fail(ctx, err.code ? err.code : FIVO_ERR_INVALID,
                              "smc: recomputing step %d in backward: %s", t, err.message);
                break;
            }
        if (ctx->status != FIVO_OK)
            break;
        seed(ctx, r->log_phat, g_phat);
        seed(ctx, r->log_w, g_lw);
        for (int k = 0; k < count_out && k < r->state.count; k++)
            seed(ctx, r->state.t[k], cg_st[k]);
        fivo__backward_tail(ctx, m.nnodes);
        if (s > 0) {
            g_phat = harvest(in_phat, cphat);
            g_lw = harvest(in_lw, clw);
            count_out = in.count;
            for (int k = 0; k < in.count; k++)
                cg_st[k] = harvest(in.t[k], cst[k]);
        }
        fivo__wgrad_stage(ctx);
        fivo__ctx_release(ctx, &m);
    }
    ctx->seg_floor = saved_floor;
    ctx->nnodes = saved_nodes;
}

static smc_path choose_path(const fivo_smc_options *opts)
{
    /* Existing resamplers' vtables end before the 2.0 slots, so they take
     * exactly the paths they always took. */
    const fivo_resampler *rs = opts->resampler;
    if (opts->criterion == FIVO_RESAMPLE_NEVER)
        return SMC_PATH_HARD; /* never drawn */
    if (FIVO_RESAMPLER_HAS(rs, resample_transport))
        return SMC_PATH_TRANSPORT;
    if (FIVO_RESAMPLER_HAS(rs, resample_relaxed))
        return SMC_PATH_RELAXED;
    if (FIVO_RESAMPLER_HAS(rs, resample_weighted))
        return SMC_PATH_WEIGHTED;
    return SMC_PATH_HARD;
}

/* The run's record and its work arrays in the arena, and the result's
 * per-step arrays. */
static smc_run *run_new(fivo_ctx *ctx, const fivo_model *model, const fivo_batch *batch,
                        const fivo_smc_options *opts, fivo_smc_result *out)
{
    smc_run *r = fivo_ctx_alloc(ctx, sizeof *r);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    r->model = *model;
    r->batch = *batch;
    r->opts = *opts;
    r->out = out;
    smc_work *wk = &r->w;
    wk->N = opts->num_particles;
    wk->B = batch->batch_size;
    wk->T = batch->max_len;
    wk->R = wk->N * wk->B;
    const int N = wk->N, B = wk->B, T = wk->T, R = wk->R;
    r->path = choose_path(opts);
    r->log_n = log((double)N);
    r->log_ess_min = opts->ess_threshold > 0.0 ? log(opts->ess_threshold * (double)N) : -INFINITY;
    const bool weighted = r->path == SMC_PATH_WEIGHTED;
    wk->active = fivo_ctx_alloc(ctx, (size_t)R);
    wk->add = fivo_ctx_alloc(ctx, (size_t)B);
    wk->res = fivo_ctx_alloc(ctx, (size_t)B);
    wk->reset = fivo_ctx_alloc(ctx, (size_t)R);
    wk->index = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)R);
    wk->filter_rows = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N);
    wk->ancestors = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N);
    wk->lw = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)N);
    wk->blend = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B);
    wk->parts = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B);
    wk->lw_new = weighted ? fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B) : NULL;
    r->keys = fivo_ctx_alloc(ctx, sizeof(uint32_t) * (size_t)R);
    out->log_weights = fivo_ctx_alloc(ctx, sizeof(float) * (size_t)T * (size_t)R);
    out->resampled = fivo_ctx_alloc(ctx, (size_t)T * (size_t)B);
    if (!wk->active || !wk->add || !wk->res || !wk->reset || !wk->index || !wk->filter_rows ||
        !wk->ancestors || !wk->lw || !wk->blend || !wk->parts || (weighted && !wk->lw_new) ||
        !r->keys || !out->log_weights || !out->resampled)
        return NULL;
    return r;
}

static fivo_status run_zero(fivo_ctx *ctx, smc_run *r, fivo_error *err);

/* Arena bytes set_observations makes for the first `steps` steps of the
 * batch (a probe, released). */
static size_t observe_bytes(fivo_ctx *ctx, const smc_run *r, int steps)
{
    fivo_batch probe = r->batch;
    int32_t *len = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)r->w.B);
    if (len == NULL)
        return 0;
    for (int b = 0; b < r->w.B; b++)
        len[b] = r->batch.lengths[b] < steps ? r->batch.lengths[b] : steps;
    probe.lengths = len;
    probe.max_len = steps;
    fivo_ctx_mark m = fivo__ctx_mark(ctx);
    size_t peak = ctx->peak;
    fivo_error e = {0};
    fivo_status st = fivo_model_set_observations(&r->model, ctx, &probe, r->w.N, &e);
    size_t used = fivo__ctx_in_use(ctx) - (m.used_before + (size_t)(m.ptr - ctx->blocks[m.cur].base));
    bool ok = st == FIVO_OK && ctx->status == FIVO_OK;
    fivo__ctx_release(ctx, &m);
    ctx->peak = peak;
    if (ctx->status != FIVO_OK) { /* the real call reports it */
        ctx->status = FIVO_OK;
        ctx->message[0] = '\0';
    }
    return ok ? used : 0;
}

/* Whether a training run of this batch goes stepwise (the model's
 * set_observations_stepwise): what set_observations makes once for all
 * steps is O(T) and lies outside the segments, so a batch that will be cut
 * (longer than the fixed segment length) or whose encoding would take a
 * quarter of the budget (estimated from two probes of 1 and 2 steps) is
 * encoded step by step. A function of the shapes only, so the same for any
 * thread or rank count; a batch that fits keeps the whole-batch encoding
 * and its bits. */
static bool stepwise_wanted(fivo_ctx *ctx, const smc_run *r)
{
    const int T = r->w.T;
    if (!ctx->grad_enabled || T <= 1 || ctx->status != FIVO_OK ||
        !FIVO_MODEL_HAS(&r->model, set_observations_stepwise))
        return false;
    if (ctx->segment_steps > 0)
        return T > ctx->segment_steps;
    if (ctx->memory_budget == 0)
        return false;
    size_t one = observe_bytes(ctx, r, 1), two = observe_bytes(ctx, r, 2);
    size_t step = two > one ? two - one : 0;
    return (double)one + (double)step * (double)(T - 1) >= (double)ctx->memory_budget / 8.0;
}

/* Row keys, the model's observations and zero state, the carried values
 * at step 0. */
static fivo_status run_start(fivo_ctx *ctx, smc_run *r, fivo_error *err)
{
    const fivo_model *model = &r->model;
    const fivo_batch *batch = &r->batch;
    const int N = r->w.N, B = r->w.B;
    /* Stable random numbers per sequence: proposal noise keyed by
     * seq_id * N + particle, resampling uniforms by seq_id. */
    if (batch->seq_ids != NULL)
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                r->keys[p * B + b] = (uint32_t)batch->seq_ids[b] * (uint32_t)N + (uint32_t)p;
    set_keys(ctx, r);

    fivo_status st = FIVO_ERR_UNSUPPORTED;
    if (stepwise_wanted(ctx, r)) {
        st = fivo_model_set_observations_stepwise(model, ctx, batch, N, err);
        if (st != FIVO_OK && st != FIVO_ERR_UNSUPPORTED)
            return fivo_error_prefix(err, "model '%s' set_observations_stepwise: ", model->name);
    }
    if (st == FIVO_ERR_UNSUPPORTED)
        st = fivo_model_set_observations(model, ctx, batch, N, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' set_observations: ", model->name);
    return run_zero(ctx, r, err);
}

/* The model's zero state and the carried values at step 0, diagnostics
 * cleared. */
static fivo_status run_zero(fivo_ctx *ctx, smc_run *r, fivo_error *err)
{
    const fivo_model *model = &r->model;
    const int N = r->w.N, B = r->w.B, R = r->w.R;
    fivo_status st = fivo_model_zero_state(model, ctx, R, &r->state0, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' zero_state: ", model->name);
    if ((st = check_state(&r->state0, R, "zero_state", 0, err)) != FIVO_OK)
        return st;

    r->zeros_r = fivo_tensor_zeros(ctx, R, 1);
    r->zeros_b = fivo_tensor_zeros(ctx, B, 1);
    r->zeros_n = r->path == SMC_PATH_WEIGHTED ? fivo_tensor_zeros(ctx, N, 1) : NULL;
    r->state = r->state0;
    r->log_w = r->zeros_r;
    r->log_phat = r->zeros_b;
    r->valid_steps = r->resample_steps = r->var_count = 0;
    r->var_sum = 0.0;
    return FIVO_OK;
}

/* The steps, from the arena mark m. With a tape and a budget (or fixed
 * segment length) the tape is cut into segments: each ends once its arena
 * use passes the limit below (backward about doubles a segment), its
 * carried values are checkpointed and its memory released. Without a tape
 * (eval, sample's prefix) the steps' memory is released whenever it passes
 * the span, so eval's memory is the state's, not T times a step's. */
static fivo_status run_steps(fivo_ctx *ctx, smc_run *r, const fivo_ctx_mark *m, fivo_error *err)
{
    const int T = r->w.T;
    const size_t budget = ctx->memory_budget;
    const int fixed = ctx->segment_steps;
    const bool segmented = (budget > 0 || fixed > 0) && ctx->grad_enabled && T > 1;
    /* A segment's forward may use 7/16 of what the budget leaves after what
     * the run made before its steps (set_observations, the result arrays):
     * its backward about doubles it, so the arena stays within the budget
     * it was sized to and faults no new pages in. Where that leaves less
     * than a quarter of the budget, half the budget (the arena then grows
     * past it by what came before). Where the cuts fall changes no bits. */
    const size_t pre = m->used_before + (size_t)(m->ptr - ctx->blocks[m->cur].base);
    size_t limit = segmented && fixed == 0 && budget > pre ? (budget - pre) / 16 * 7 : 0;
    if (segmented && fixed == 0 && limit < budget / 4)
        limit = budget / 2;
    const bool carry = !ctx->grad_enabled && T > 1;
    const size_t span = budget > 0 ? budget / 2 : FIVO_SMC_NOGRAD_SPAN;
    int carried = 0; /* the step after the last release */
    fivo_status st;
    for (int t = 0; t < T; t++) {
        if ((st = smc_step(ctx, r, t, false, err)) != FIVO_OK)
            return st;
        if ((!segmented && !carry) || t + 1 == T)
            continue;
        size_t used = fivo__ctx_in_use(ctx) -
                      (m->used_before + (size_t)(m->ptr - ctx->blocks[m->cur].base));
        if (carry) {
            if (fixed > 0 ? t + 1 - carried < fixed : used < span)
                continue;
            if (!carry_over(ctx, r, m))
                return fivo_ctx_status(ctx, err);
            carried = t + 1;
            continue;
        }
        if (fixed > 0 ? t + 1 - r->seg_start[r->nseg - 1] < fixed : used < limit)
            continue;
        if (fixed == 0 && t == r->seg_start[r->nseg - 1])
            return fivo_error_set(err, FIVO_ERR_NOMEM,
                                  "memory budget of %.2f MB is too small for one step of %d rows: "
                                  "it needs at least %.2f MB",
                                  (double)budget / 1048576.0, r->w.R,
                                  (double)(2 * used) / 1048576.0 + 0.01);
        smc_ckpt *c = &r->ckpt[r->nseg];
        if (!checkpoint(ctx, r, c))
            return fivo_ctx_status(ctx, err);
        r->seg_start[r->nseg++] = t + 1;
        fivo__ctx_release(ctx, m);
        restore(ctx, r, c);
    }
    return FIVO_OK;
}

/* After a segmented run: the results frozen, the last segment released,
 * and one node standing for the loop, whose backward replays the segments
 * (segments_backward). The final state and weights are values only. */
static fivo_status run_freeze(fivo_ctx *ctx, smc_run *r, const fivo_ctx_mark *m,
                              fivo_smc_result *out, fivo_error *err)
{
    smc_ckpt *fin = fivo__side_alloc(ctx, sizeof *fin);
    if (fin == NULL || !checkpoint(ctx, r, fin))
        return fivo_ctx_status(ctx, err);
    r->seg_start[r->nseg] = r->w.T;
    r->out = NULL;
    fivo__ctx_release(ctx, m);
    out->final_state.count = fin->count;
    for (int k = 0; k < fin->count; k++)
        out->final_state.t[k] = frozen_tensor(ctx, &fin->st[k]);
    out->final_log_weights = frozen_tensor(ctx, &fin->lw);
    r->phat_out = fivo_tensor_from(ctx, r->w.B, 1, fin->phat.data);
    if (fin->phat.flags & FIVO_TENSOR_REQUIRES_GRAD) {
        fivo_node *n = fivo__record(ctx, segments_backward, r->phat_out);
        if (n != NULL)
            n->aux = r;
    }
    out->log_phat = r->phat_out;
    return fivo_ctx_status(ctx, err);
}

fivo_status fivo_smc_run(fivo_ctx *ctx, const fivo_model *model, const fivo_batch *batch,
                         const fivo_smc_options *opts, fivo_smc_result *out, fivo_error *err)
{
    memset(out, 0, sizeof *out);
    fivo_status st = check_args(model, batch, opts, err);
    if (st != FIVO_OK)
        return st;
    smc_run *r = run_new(ctx, model, batch, opts, out);
    if (r == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "smc: arena exhausted");
    if ((st = run_start(ctx, r, err)) != FIVO_OK)
        return st;
    const int T = r->w.T;
    /* Segments only where a budget is set and a tape is kept. */
    if ((ctx->memory_budget > 0 || ctx->segment_steps > 0) && ctx->grad_enabled && T > 1) {
        r->seg_start = fivo__side_alloc(ctx, sizeof(int) * ((size_t)T + 1));
        r->ckpt = fivo__side_alloc(ctx, sizeof(smc_ckpt) * ((size_t)T + 1));
        if (r->seg_start == NULL || r->ckpt == NULL)
            return fivo_ctx_status(ctx, err);
        r->seg_start[0] = 0;
    }
    r->nseg = 1;
    fivo_ctx_mark m = fivo__ctx_mark(ctx);
    if ((st = run_steps(ctx, r, &m, err)) != FIVO_OK)
        return st;

    out->max_len = T;
    out->batch_size = r->w.B;
    out->num_particles = r->w.N;
    out->resample_rate =
        r->valid_steps > 0 ? (double)r->resample_steps / (double)r->valid_steps : 0.0;
    out->log_weight_var = r->var_count > 0 ? r->var_sum / (double)r->var_count : 0.0;
    if (r->nseg > 1)
        return run_freeze(ctx, r, &m, out, err);
    /* the whole tape fits: nothing to recompute */
    out->log_phat = r->log_phat;
    out->final_state = r->state;
    out->final_log_weights = r->log_w;
    return FIVO_OK;
}

fivo_status fivo_smc_check_budget(const struct fivo_bound *bound, const fivo_model *model,
                                  const fivo_resampler *resampler, int batch_size, int dim,
                                  int num_particles, size_t budget, fivo_error *err)
{
    if (budget == 0)
        return FIVO_OK;
    if (batch_size < 1 || dim < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "memory check: %d sequences of width %d",
                              batch_size, dim);
    /* two steps of zeros: the first must fit in a segment of its own */
    size_t n = (size_t)2 * (size_t)batch_size * (size_t)dim;
    float *x = calloc(n, sizeof *x);
    int32_t *len = calloc((size_t)batch_size, sizeof *len);
    fivo_ctx *ctx = fivo_ctx_new((size_t)1 << 20, 0);
    fivo_status st = FIVO_OK;
    if (x == NULL || len == NULL || ctx == NULL) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "memory check: out of memory");
    } else {
        for (int b = 0; b < batch_size; b++)
            len[b] = 2;
        fivo_batch batch = {.max_len = 2, .batch_size = batch_size, .dim = dim, .inputs = x,
                            .targets = x, .lengths = len};
        ctx->memory_budget = budget; /* no pre-sizing for a probe */
        fivo_smc_result res;
        st = fivo_bound_compute(bound, ctx, model, resampler, &batch, num_particles, &res, err);
    }
    fivo_ctx_free(ctx);
    free(x);
    free(len);
    return st;
}
