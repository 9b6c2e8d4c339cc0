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
 * same.) Ancestor indices carry no gradient: resampling gathers rows. */
#include <math.h>
#include <string.h>

#include <fivo/smc.h>
#include <fivo/weights.h>

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

fivo_status fivo_smc_run(fivo_ctx *ctx, const fivo_model *model, const fivo_batch *batch,
                         const fivo_smc_options *opts, fivo_smc_result *out, fivo_error *err)
{
    memset(out, 0, sizeof *out);
    fivo_status st = check_args(model, batch, opts, err);
    if (st != FIVO_OK)
        return st;

    smc_work w;
    w.N = opts->num_particles;
    w.B = batch->batch_size;
    w.T = batch->max_len;
    w.R = w.N * w.B;
    const int N = w.N, B = w.B, T = w.T, R = w.R;
    const fivo_resampler *resampler = opts->resampler;
    const bool can_resample = opts->criterion != FIVO_RESAMPLE_NEVER;
    /* Slot precedence (fivo/plugin_resampler.h): transport, relaxed,
     * weighted, plain. Existing resamplers' vtables end before the 2.0 slots,
     * so they take exactly the paths they always took. */
    const bool transport = can_resample && FIVO_RESAMPLER_HAS(resampler, resample_transport);
    const bool relaxed =
        can_resample && !transport && FIVO_RESAMPLER_HAS(resampler, resample_relaxed);
    const bool weighted = can_resample && !transport && !relaxed &&
                          FIVO_RESAMPLER_HAS(resampler, resample_weighted);
    const bool blended = transport || relaxed;
    const double log_n = log((double)N);
    const double log_ess_min =
        opts->ess_threshold > 0.0 ? log(opts->ess_threshold * (double)N) : -INFINITY;

    w.active = fivo_ctx_alloc(ctx, (size_t)R);
    w.add = fivo_ctx_alloc(ctx, (size_t)B);
    w.res = fivo_ctx_alloc(ctx, (size_t)B);
    w.reset = fivo_ctx_alloc(ctx, (size_t)R);
    w.index = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)R);
    w.filter_rows = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N);
    w.ancestors = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N);
    w.lw = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)N);
    w.blend = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B);
    w.parts = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B);
    w.lw_new = weighted ? fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)B) : NULL;
    uint32_t *keys = fivo_ctx_alloc(ctx, sizeof(uint32_t) * (size_t)R);
    out->log_weights = fivo_ctx_alloc(ctx, sizeof(float) * (size_t)T * (size_t)R);
    out->resampled = fivo_ctx_alloc(ctx, (size_t)T * (size_t)B);
    if (!w.active || !w.add || !w.res || !w.reset || !w.index || !w.filter_rows ||
        !w.ancestors || !w.lw || !w.blend || !w.parts || (weighted && !w.lw_new) || !keys ||
        !out->log_weights ||
        !out->resampled)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "smc: arena exhausted");

    /* Stable random numbers per sequence: proposal noise keyed by
     * seq_id * N + particle, resampling uniforms by seq_id. */
    if (batch->seq_ids != NULL) {
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                keys[p * B + b] = (uint32_t)batch->seq_ids[b] * (uint32_t)N + (uint32_t)p;
        fivo_ctx_set_row_keys(ctx, keys, R);
    } else {
        fivo_ctx_set_row_keys(ctx, NULL, R);
    }

    st = fivo_model_set_observations(model, ctx, batch, N, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' set_observations: ", model->name);
    fivo_state state;
    memset(&state, 0, sizeof state);
    st = fivo_model_zero_state(model, ctx, R, &state, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "model '%s' zero_state: ", model->name);
    if ((st = check_state(&state, R, "zero_state", 0, err)) != FIVO_OK)
        return st;

    fivo_tensor *zeros_r = fivo_tensor_zeros(ctx, R, 1);
    fivo_tensor *zeros_b = fivo_tensor_zeros(ctx, B, 1);
    fivo_tensor *zeros_n = weighted ? fivo_tensor_zeros(ctx, N, 1) : NULL;
    fivo_tensor *log_w = zeros_r;
    fivo_tensor *log_phat = zeros_b;
    int64_t valid_steps = 0, resample_steps = 0, var_count = 0;
    double var_sum = 0.0;

    for (int t = 0; t < T; t++) {
        fivo_state next;
        memset(&next, 0, sizeof next);
        fivo_tensor *alpha = NULL;
        st = fivo_model_propose_and_weight(model, ctx, &state, t, &next, &alpha, err);
        if (st != FIVO_OK)
            return fivo_error_prefix(err, "model '%s' at step %d: ", model->name, t);
        if ((st = fivo_ctx_status(ctx, err)) != FIVO_OK)
            return fivo_error_prefix(err, "model '%s' at step %d: ", model->name, t);
        if (alpha == NULL || alpha->rows != R || alpha->cols != 1)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "model '%s' at step %d: log weight is %d x %d, expected %d x 1",
                                  model->name, t, alpha ? alpha->rows : -1,
                                  alpha ? alpha->cols : -1, R);
        if ((st = check_state(&next, R, "propose_and_weight", t, err)) != FIVO_OK)
            return st;

        /* Mask incremental weights past each sequence's end. */
        bool all_active = true;
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++) {
                uint8_t a = t < batch->lengths[b];
                w.active[p * B + b] = a;
                all_active = all_active && a;
            }
        log_w = fivo_add(ctx, log_w, all_active ? alpha
                                                : fivo_select_rows(ctx, w.active, alpha, zeros_r));
        memcpy(out->log_weights + (size_t)t * R, log_w->data, sizeof(float) * (size_t)R);

        /* Per filter: check, diagnostics, criterion, ancestors. */
        bool any_add = false, any_res = false;
        fivo_rng rng = fivo_ctx_rng(ctx, FIVO_RNG_RESAMPLE, (uint32_t)t);
        for (int b = 0; b < B; b++) {
            w.add[b] = 0;
            w.res[b] = 0;
            w.blend[b] = NULL;
            if (weighted)
                w.lw_new[b] = NULL;
            for (int p = 0; p < N; p++)
                w.index[p * B + b] = p * B + b;
            if (t >= batch->lengths[b])
                continue;
            for (int p = 0; p < N; p++)
                w.lw[p] = log_w->data[p * B + b];
            if ((st = fivo_weights_check(w.lw, N, err)) != FIVO_OK)
                return seq_error(err, batch, t, b);
            valid_steps++;
            /* Variance of the log weights over the particles (normalisation
             * is a shift, so it does not change it); finite ones only. */
            double m = 0.0, s2 = 0.0;
            int nf = 0;
            for (int p = 0; p < N; p++)
                if (isfinite(w.lw[p])) {
                    nf++;
                    double d = w.lw[p] - m;
                    m += d / nf;
                    s2 += d * (w.lw[p] - m);
                }
            var_sum += s2 / nf;
            var_count++;

            bool resample = opts->criterion == FIVO_RESAMPLE_ALWAYS ||
                            (opts->criterion == FIVO_RESAMPLE_ESS &&
                             fivo_weights_log_ess(w.lw, N) <= log_ess_min);
            w.res[b] = resample;
            w.add[b] = resample || t == batch->lengths[b] - 1;
            any_add = any_add || w.add[b];
            if (!resample)
                continue;
            any_res = true;
            resample_steps++;
            uint32_t key = batch->seq_ids != NULL ? (uint32_t)batch->seq_ids[b] : (uint32_t)b;
            if (blended) {
                for (int p = 0; p < N; p++)
                    w.filter_rows[p] = p * B + b;
                fivo_tensor *lwb = fivo_gather_rows(ctx, log_w, w.filter_rows, N);
                st = transport ? fivo_resampler_resample_transport(
                                     resampler, ctx, lwb, filter_particles(ctx, &next, &w), &rng,
                                     key, &w.blend[b], err)
                               : fivo_resampler_resample_relaxed(resampler, ctx, lwb, &rng, key,
                                                                 &w.blend[b], err);
                if (st == FIVO_OK && (w.blend[b] == NULL || w.blend[b]->rows != N ||
                                      w.blend[b]->cols != N))
                    st = fivo_error_set(err, FIVO_ERR_INVALID,
                                        "resampler '%s' returned a blend that is not %d x %d",
                                        resampler->name, N, N);
            } else {
                if (weighted) {
                    for (int p = 0; p < N; p++)
                        w.filter_rows[p] = p * B + b;
                    fivo_tensor *lwb = fivo_gather_rows(ctx, log_w, w.filter_rows, N);
                    st = fivo_resampler_resample_weighted(resampler, ctx, lwb, w.lw, &rng,
                                                          key, w.ancestors, &w.lw_new[b], err);
                    if (st == FIVO_OK && (w.lw_new[b] == NULL || w.lw_new[b]->rows != N ||
                                          w.lw_new[b]->cols != 1))
                        st = fivo_error_set(err, FIVO_ERR_INVALID,
                                            "resampler '%s' returned restart weights that are "
                                            "not %d x 1",
                                            resampler->name, N);
                } else {
                    st = fivo_resampler_resample(resampler, w.lw, N, &rng, key, w.ancestors,
                                                 err);
                }
                for (int p = 0; st == FIVO_OK && p < N; p++) {
                    if (w.ancestors[p] < 0 || w.ancestors[p] >= N)
                        st = fivo_error_set(err, FIVO_ERR_INVALID,
                                            "resampler '%s' returned ancestor %d outside [0, %d)",
                                            resampler->name, (int)w.ancestors[p], N);
                    else
                        w.index[p * B + b] = w.ancestors[p] * B + b;
                }
            }
            if (st != FIVO_OK)
                return seq_error(err, batch, t, b);
        }

        /* log Z-hat += logsumexp(w) - log N where resampled or ending. */
        if (any_add) {
            fivo_tensor *upd = fivo_add_scalar(ctx, fivo_logsumexp_groups(ctx, log_w, N),
                                               (float)-log_n);
            log_phat = fivo_add(ctx, log_phat, fivo_select_rows(ctx, w.add, upd, zeros_b));
        }
        if (any_res) {
            for (int k = 0; k < next.count; k++)
                next.t[k] = blended ? blend_rows(ctx, next.t[k], &w)
                                    : fivo_gather_rows(ctx, next.t[k], w.index, R);
            for (int p = 0; p < N; p++)
                for (int b = 0; b < B; b++)
                    w.reset[p * B + b] = w.res[b];
            log_w = fivo_select_rows(ctx, w.reset,
                                     weighted ? restart_weights(ctx, zeros_n, &w) : zeros_r, log_w);
        }
        memcpy(out->resampled + (size_t)t * B, w.res, (size_t)B);
        state = next;
        if ((st = fivo_ctx_status(ctx, err)) != FIVO_OK)
            return fivo_error_prefix(err, "smc at step %d: ", t);
    }

    out->log_phat = log_phat;
    out->max_len = T;
    out->batch_size = B;
    out->num_particles = N;
    out->resample_rate = valid_steps > 0 ? (double)resample_steps / (double)valid_steps : 0.0;
    out->log_weight_var = var_count > 0 ? var_sum / (double)var_count : 0.0;
    out->final_state = state;
    out->final_log_weights = log_w;
    return FIVO_OK;
}
