/* SIXO: FIVO whose particle filter is twisted by a learned density ratio
 * (Lawson, Raventos, Warrington, Linderman, "SIXO: Smoothing Inference
 * with Twisted Objectives", NeurIPS 2022).
 *
 * The twist r_t(z_t, x_{t+1:T}) approximates p(x_{t+1:T} | z_t) up to a
 * factor free of z_t: its log is the logit of a classifier (an MLP
 * "sixo/twist", zero output layer at the start: plain FIVO) on
 * [h_t, encoded z_t, future_t], the model's tilt features and its summary
 * of the observations after step t (fivo.ext.tilt 2.2: on the vrnn the
 * smoothing proposal's reverse LSTM, reused).
 *
 * The classifier (density-ratio estimation, the paper's SIXO-DRE, in its
 * form conditioned on the sequence): class 1 are draws of
 * p(z_t | x_{1:T}), the filter's final particles traced back through their
 * ancestors and weighted by the final normalised weights; class 0 are
 * draws of p(z_t | x_{1:t}), the particles after step t weighted by their
 * weights without the twist (log w_t - log r_t). Both carry the same
 * future, so the logit at the optimum is
 *     log p(z_t | x_{1:T}) - log p(z_t | x_{1:t})
 *       = log p(x_{t+1:T} | z_t, x_{1:t}) - log p(x_{t+1:T} | x_{1:t}),
 * the twist SIXO needs (the second term does not depend on z_t, so it
 * cancels in the filter). The paper's negatives pair z_t with another
 * sequence's future instead (the unconditional ratio); the host runs each
 * sequence in its own shard by default, so a compute may see one sequence,
 * and the conditional form needs no other. The classifier's inputs are
 * values (no gradient reaches the model); its logistic loss for sequence b,
 *     sum_{t < len_b - 1} sum_p [ w1_p softplus(-s(u1_p,t)) + w0_p softplus(s(u0_p,t)) ],
 * is returned through the bound's train_loss slot and summed with
 * -log p-hat into one Adam step (as fivo-aux-td's Bellman loss).
 *
 * The weights: log w_t + stop_gradient(log r_t - log r_{t-1}), log r = 0
 * from each sequence's last step on, r_{t-1} the incoming (possibly
 * resampled) particle's. Without resampling the terms telescope and the
 * bound is FIVO's; with a zero twist it is FIVO's bit for bit. The bound
 * gives neither the twist nor, through the twist, the model a gradient:
 * the model and proposal train on the twisted filter's FIVO gradient, the
 * twist on its own loss.
 *
 * Metrics (train reports): classifier_loss, the mean over sequences of the
 * weighted logistic loss per (t, class), and classifier_accuracy, the
 * weighted fraction it classifies right (0.5 for a flat twist; at most
 * what the future tells about z_t). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/ext_tilt.h>
#include <fivo/fivo.h>

typedef struct sixo {
    fivo_criterion criterion;
    double ess_threshold;
    int hidden_size, hidden_layers;
    bool shuffled; /* negatives: another sequence's traced particles (else the filtering ones) */
    /* bind */
    const void *model_self;
    const fivo_ext_tilt *ext;
    int H, L, F; /* widths of h_t, encoded z_t and the future summary */
    fivo_mlp twist;
    /* The last compute's records and results (its ctx's arena), for the
     * classifier's loss in train_loss. */
    const fivo_ctx *last_ctx;
    const fivo_batch *last_batch;
    const struct twisted *last_w;
    fivo_smc_result last_res;
    fivo_tensor *loss; /* B x 1, or NULL */
    double metric_loss, metric_acc;
} sixo;

/* One compute's view of the model with the twist folded into its weights.
 * The state is the model's followed by one tensor rows x 2: [the row the
 * particle had after its step, log r of that step], so resampling carries
 * both. Per-step records live in the arena before the filter runs (a
 * segmented filter releases and replays its steps; these stay). */
typedef struct twisted {
    const fivo_model *inner;
    sixo *s;
    const fivo_batch *batch;
    int rows, N, B, T;
    int inner_count;
    float *feat;   /* [T][rows][H + L]: h_t, encoded z_t after step t (values) */
    float *fut;    /* [T][B][F]: sequence b's future summary after step t (values) */
    int32_t *anc;  /* [T][rows]: row at t - 1 the particle at row r at step t descends from */
    float *input;  /* [rows][H + L + F]: the twist's input at one step */
    float *log_r;  /* [rows] */
    float *log_r_all; /* [T][rows]: log r_t of each particle after step t */
} twisted;

#define SIXO_ROW(w) ((size_t)(w)->s->H + (size_t)(w)->s->L)

static const fivo_option OPTIONS[] = {
    FIVO_SMC_CRITERION_OPTIONS,
    {"hidden_size", FIVO_OPTION_INT, "32", "width of the twist classifier's hidden layers", NULL,
     "1", "4096"},
    {"hidden_layers", FIVO_OPTION_INT, "2", "hidden (ReLU) layers of the twist classifier", NULL,
     "0", "6"},
    {"negatives", FIVO_OPTION_STRING, "shuffled",
     "the classifier's class 0: the particles after step t weighted without the twist "
     "(filtering), or the next sequence's traced particles with this one's future (shuffled, "
     "the paper's; needs >= 2 sequences per shard)",
     "filtering|shuffled", NULL, NULL}};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    fivo_criterion criterion;
    double thr;
    fivo_status st =
        fivo_smc_criterion_read(cfg, FIVO_OPTION_ROWS(OPTIONS), &criterion, &thr, err);
    if (st != FIVO_OK)
        return st;
    long hs = 0, hl = 0;
    if ((st = fivo_option_int(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS), "hidden_size", &hs, err)) !=
            FIVO_OK ||
        (st = fivo_option_int(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS), "hidden_layers", &hl,
                              err)) != FIVO_OK)
        return fivo_error_prefix(err, "sixo: ");
    const char *neg = NULL;
    if ((st = fivo_option_string(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS), "negatives", &neg, err)) !=
        FIVO_OK)
        return fivo_error_prefix(err, "sixo: ");
    if (hl >= FIVO_MLP_MAX_LAYERS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo: [bound] hidden_layers = %ld, at most %d",
                              hl, FIVO_MLP_MAX_LAYERS - 1);
    sixo *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "sixo: out of memory");
    s->criterion = criterion;
    s->ess_threshold = thr;
    s->hidden_size = (int)hs;
    s->hidden_layers = (int)hl;
    s->shuffled = neg != NULL && strcmp(neg, "shuffled") == 0;
    *self = s;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status bind(void *self, const fivo_model *model, const fivo_data_spec *spec,
                        fivo_params *params, fivo_error *err)
{
    sixo *s = self;
    (void)spec;
    const char *name = model != NULL && model->name != NULL ? model->name : "?";
    if (s->ext != NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo: bound twice");
    const fivo_ext_tilt *ext = fivo_model_ext_tilt(model);
    if (ext == NULL)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "sixo: model '%s' does not offer the %s extension (vrnn, forward and "
                              "long_chain do)",
                              name, FIVO_EXT_TILT_URI);
    if (!fivo_ext_tilt_has_future(ext))
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "sixo: model '%s' offers %s without its slots 'future_size' and "
                              "'future' (ABI 2.2): it has no summary of the future observations",
                              name, FIVO_EXT_TILT_URI);
    fivo_tilt_spec ts;
    memset(&ts, 0, sizeof ts);
    ext->describe(model->self, &ts);
    int F = ext->future_size(model->self);
    if (F < 1)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "sixo: model '%s' has no future summary in this configuration (the "
                              "vrnn needs [model] proposal_type = smoothing: the twist reads its "
                              "reverse LSTM)",
                              name);
    if (ts.h_size < 1 || ts.lat_size < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo: model '%s' describes bad features",
                              name);
    int sizes[FIVO_MLP_MAX_LAYERS];
    for (int i = 0; i < s->hidden_layers; i++)
        sizes[i] = s->hidden_size;
    sizes[s->hidden_layers] = 1;
    fivo_status st = fivo_mlp_init(&s->twist, params, "sixo/twist", ts.h_size + ts.lat_size + F,
                                   sizes, s->hidden_layers + 1, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "sixo: ");
    /* A zero output layer: training starts as plain FIVO. */
    fivo_tensor *wl = s->twist.layers[s->twist.num_layers - 1].w;
    memset(wl->data, 0, sizeof(float) * fivo_tensor_size(wl));
    s->ext = ext;
    s->H = ts.h_size;
    s->L = ts.lat_size;
    s->F = F;
    s->model_self = model->self;
    return FIVO_OK;
}

/* Copies a rows x cols tensor's values into dst with row stride ld. */
static void copy_rows(float *dst, size_t ld, const fivo_tensor *a)
{
    for (int r = 0; r < a->rows; r++)
        memcpy(dst + (size_t)r * ld, fivo_tensor_row(a, r), sizeof(float) * (size_t)a->cols);
}

static fivo_status t_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                      int num_particles, fivo_error *err)
{
    twisted *w = self;
    return w->inner->vt->set_observations(w->inner->self, ctx, batch, num_particles, err);
}

static fivo_status t_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                fivo_error *err)
{
    twisted *w = self;
    const fivo_model *m = w->inner;
    fivo_status st = m->vt->zero_state(m->self, ctx, rows, out, err);
    if (st != FIVO_OK)
        return st;
    if (out->count < 1 || out->count >= FIVO_STATE_MAX)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: model '%s' has %d state tensors, the twist needs one more "
                              "(at most %d)",
                              m->name, out->count, FIVO_STATE_MAX);
    w->inner_count = out->count;
    fivo_tensor *tw = fivo_tensor_zeros(ctx, rows, 2); /* log r_{-1} = 0 */
    if (tw != NULL)
        for (int r = 0; r < rows; r++)
            tw->data[2 * r] = (float)r;
    out->t[out->count++] = tw;
    return fivo_ctx_status(ctx, err);
}

/* rows x 1 logits of the twist for n input rows of width H + L + F (values). */
static fivo_tensor *twist_logits(fivo_ctx *ctx, const sixo *s, int n, const float *input)
{
    return fivo_mlp_forward(ctx, &s->twist, fivo_tensor_from(ctx, n, s->H + s->L + s->F, input));
}

static fivo_status t_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                        fivo_state *out, fivo_tensor **log_weight,
                                        fivo_error *err)
{
    twisted *w = self;
    const sixo *s = w->s;
    const fivo_model *m = w->inner;
    const fivo_batch *b = w->batch;
    const int rows = w->rows, B = w->B, HL = (int)SIXO_ROW(w), IN = HL + s->F;
    if (state->count != w->inner_count + 1 || t < 0 || t >= w->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo at step %d: foreign state", t);
    fivo_state in = *state;
    in.count = w->inner_count;
    const fivo_tensor *prev = state->t[w->inner_count];
    fivo_status st = m->vt->propose_and_weight(m->self, ctx, &in, t, out, log_weight, err);
    if (st != FIVO_OK || *log_weight == NULL)
        return st;

    /* Records: the ancestry and the features of this step. */
    int32_t *anc = w->anc + (size_t)t * rows;
    for (int r = 0; r < rows; r++) {
        long a = lrintf(prev->data[2 * r]);
        anc[r] = (int32_t)(a < 0 ? 0 : a >= rows ? rows - 1 : a);
    }
    const fivo_tensor *h = NULL, *lat = NULL;
    if (s->ext->features(s->model_self, ctx, out, t, &h, &lat, err) != FIVO_OK)
        return fivo_error_prefix(err, "sixo at step %d: ", t);
    if (h == NULL || lat == NULL || h->rows != rows || h->cols != s->H || lat->rows != rows ||
        lat->cols != s->L)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo at step %d: model '%s' gave features of a bad shape", t,
                              m->name);
    float *feat = w->feat + (size_t)t * rows * HL;
    copy_rows(feat, (size_t)HL, h);
    copy_rows(feat + s->H, (size_t)HL, lat);

    /* log r_t: the classifier's logit while the sequence goes on, else 0. */
    memset(w->log_r, 0, sizeof(float) * (size_t)rows);
    if (t + 1 < w->T) {
        const fivo_tensor *f = NULL;
        if (s->ext->future(s->model_self, ctx, t, &f, err) != FIVO_OK)
            return fivo_error_prefix(err, "sixo at step %d: ", t);
        if (f == NULL || f->rows != rows || f->cols != s->F)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "sixo at step %d: model '%s' gave a future of a bad shape", t,
                                  m->name);
        float *fut = w->fut + (size_t)t * B * s->F;
        for (int bb = 0; bb < B; bb++)
            memcpy(fut + (size_t)bb * s->F, fivo_tensor_row(f, bb), sizeof(float) * (size_t)s->F);
        for (int r = 0; r < rows; r++) {
            memcpy(w->input + (size_t)r * IN, feat + (size_t)r * HL, sizeof(float) * (size_t)HL);
            memcpy(w->input + (size_t)r * IN + HL, fut + (size_t)(r % B) * s->F,
                   sizeof(float) * (size_t)s->F);
        }
        fivo_tensor *logit = twist_logits(ctx, s, rows, w->input);
        if (fivo_ctx_status(ctx, err) != FIVO_OK)
            return fivo_error_prefix(err, "sixo at step %d: ", t);
        for (int r = 0; r < rows; r++)
            if (t < b->lengths[r % B] - 1)
                w->log_r[r] = logit->data[r];
    }

    memcpy(w->log_r_all + (size_t)t * rows, w->log_r, sizeof(float) * (size_t)rows);
    /* The weight's twist term, without gradient, and the carried record. */
    fivo_tensor *delta = fivo_tensor_new(ctx, rows, 1);
    fivo_tensor *tw = fivo_tensor_new(ctx, rows, 2);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "sixo at step %d: ", t);
    for (int r = 0; r < rows; r++) {
        delta->data[r] = w->log_r[r] - prev->data[2 * r + 1];
        tw->data[2 * r] = (float)r;
        tw->data[2 * r + 1] = w->log_r[r];
    }
    if (out->count < 1 || out->count >= FIVO_STATE_MAX)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo at step %d: model state of %d", t,
                              out->count);
    out->t[out->count++] = tw;
    *log_weight = fivo_add(ctx, *log_weight, delta);
    return fivo_ctx_status(ctx, err);
}

static const fivo_model_vtable TWISTED_VT = {
    .create = NULL,
    .destroy = NULL,
    .set_observations = t_set_observations,
    .zero_state = t_zero_state,
    .propose_and_weight = t_propose_and_weight,
};

/* wt[p * B + b] = the normalised exp(lw) over filter b's N particles. */
static void normalize_filter(const double *lw, int N, int B, int b, double *wt)
{
    double mx = -INFINITY, sum = 0.0;
    for (int p = 0; p < N; p++)
        mx = fmax(mx, lw[p * B + b]);
    for (int p = 0; p < N; p++)
        sum += (wt[p * B + b] = isfinite(mx) ? exp(lw[p * B + b] - mx) : 1.0);
    for (int p = 0; p < N; p++)
        wt[p * B + b] /= sum;
}

/* The classifier's loss (see the top comment): s->loss (B x 1 on the tape)
 * and the metrics. */
static fivo_status classifier_loss(fivo_ctx *ctx, sixo *s, const twisted *w,
                                   const fivo_smc_result *res, fivo_error *err)
{
    const int N = w->N, B = w->B, T = w->T, rows = w->rows, HL = (int)SIXO_ROW(w),
              IN = HL + s->F;
    const int32_t *len = w->batch->lengths;
    s->loss = NULL;
    s->metric_loss = s->metric_acc = 0.0;
    if (T < 2)
        return FIVO_OK;
    const fivo_tensor *fin = res->final_state.count == w->inner_count + 1
                                 ? res->final_state.t[w->inner_count]
                                 : NULL;
    const fivo_tensor *flw = res->final_log_weights;
    if (fin == NULL || flw == NULL || res->log_weights == NULL || fin->rows != rows ||
        flw->rows != rows)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo: the filter returned no final particles");
    /* Trace every final particle back: trace[t * rows + r]. */
    int32_t *trace = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)T * rows);
    double *lw = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)rows);
    double *wt = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)rows);
    if (trace == NULL || lw == NULL || wt == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "sixo: arena exhausted");
    for (int r = 0; r < rows; r++) {
        long a = lrintf(fin->data[2 * r]);
        trace[(size_t)(T - 1) * rows + r] = (int32_t)(a < 0 ? 0 : a >= rows ? rows - 1 : a);
    }
    for (int t = T - 1; t >= 1; t--)
        for (int r = 0; r < rows; r++)
            trace[(size_t)(t - 1) * rows + r] =
                w->anc[(size_t)t * rows + trace[(size_t)t * rows + r]];
    /* The pairs: per valid (t, b), the N traced particles (class 1) and the
     * N filtering particles (class 0). */
    if (s->shuffled && B < 2)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: [bound] negatives = shuffled pairs a sequence's particles "
                              "with another's future: a shard needs >= 2 sequences, this one has "
                              "%d (set --shards so each holds >= 2, e.g. --shards=1, or "
                              "negatives = filtering)",
                              B);
    size_t K = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < len[b] && t + 1 < T; t++)
            K += (size_t)N * (1 + (!s->shuffled || t < len[(b + 1) % B]));
    if (K == 0)
        return FIVO_OK;
    float *X = fivo_ctx_alloc(ctx, sizeof(float) * K * (size_t)IN);
    float *sign = fivo_ctx_alloc(ctx, sizeof(float) * K);
    int32_t *owner = fivo_ctx_alloc(ctx, sizeof(int32_t) * K);
    double *pw = fivo_ctx_alloc(ctx, sizeof(double) * K);
    int *pairs = fivo_ctx_alloc(ctx, sizeof(int) * (size_t)B);
    if (X == NULL || sign == NULL || owner == NULL || pw == NULL || pairs == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "sixo: arena exhausted");
    size_t k = 0;
    for (int b = 0; b < B; b++) {
        pairs[b] = 0;
        for (int t = 0; t + 1 < len[b] && t + 1 < T; t++) {
            const float *fut = w->fut + ((size_t)t * B + b) * s->F;
            for (int cls = 1; cls >= 0; cls--) {
                /* class 1: final weights of the traced particles; class 0:
                 * step t's weights without the twist (log w_t - log r_t),
                 * or the next sequence's traced particles */
                const bool traced = cls || s->shuffled;
                const int src = cls || !s->shuffled ? b : (b + 1) % B;
                if (t >= len[src])
                    continue;
                for (int p = 0; p < N; p++) {
                    int r = p * B + src;
                    lw[r] = traced ? (double)flw->data[r]
                                   : (double)res->log_weights[(size_t)t * rows + r] -
                                         (double)w->log_r_all[(size_t)t * rows + r];
                }
                normalize_filter(lw, N, B, src, wt);
                for (int p = 0; p < N; p++, k++) {
                    int r = p * B + src, row = traced ? trace[(size_t)t * rows + r] : r;
                    memcpy(X + k * IN, w->feat + ((size_t)t * rows + row) * HL,
                           sizeof(float) * (size_t)HL);
                    memcpy(X + k * IN + HL, fut, sizeof(float) * (size_t)s->F);
                    sign[k] = cls ? -1.0f : 1.0f;
                    owner[k] = b;
                    pw[k] = wt[r];
                }
                pairs[b]++;
            }
        }
    }
    /* loss_k = softplus(sign_k * logit_k); per sequence sum_k pw_k loss_k. */
    fivo_tensor *logit = twist_logits(ctx, s, (int)K, X);
    fivo_tensor *lk = fivo_softplus(ctx, fivo_mul(ctx, logit, fivo_tensor_from(ctx, (int)K, 1, sign)));
    fivo_tensor *S = fivo_tensor_zeros(ctx, B, (int)K);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "sixo: classifier: ");
    double acc = 0.0, lsum = 0.0;
    for (size_t j = 0; j < K; j++) {
        int b = owner[j];
        S->data[(size_t)b * K + j] = (float)pw[j];
        double right = (sign[j] < 0.0f) == (logit->data[j] > 0.0f) ? 1.0 : 0.0;
        if (logit->data[j] == 0.0f)
            right = 0.5;
        acc += pw[j] * right / pairs[b];
        lsum += pw[j] * (double)lk->data[j] / pairs[b];
    }
    s->loss = fivo_matmul(ctx, S, false, lk, false);
    s->metric_loss = lsum;
    s->metric_acc = acc;
    return fivo_ctx_status(ctx, err);
}

static fivo_status compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err)
{
    sixo *s = self;
    s->last_ctx = NULL;
    if (s->ext == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: no twist (the host binds the bound to the model first)");
    if (model == NULL || model->self != s->model_self)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: called with a model other than the one it was bound to");
    if (s->criterion != FIVO_RESAMPLE_NEVER && resampler == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: resampling needs a resampler ([resampler] plugin)");
    if (batch == NULL || batch->max_len < 1 || num_particles < 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "sixo: empty batch");
    twisted *w = fivo_ctx_alloc(ctx, sizeof *w);
    if (w == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "sixo: arena exhausted");
    memset(w, 0, sizeof *w);
    w->inner = model;
    w->s = s;
    w->batch = batch;
    w->N = num_particles;
    w->B = batch->batch_size;
    w->T = batch->max_len;
    w->rows = w->N * w->B;
    const size_t T = (size_t)w->T, rows = (size_t)w->rows, HL = SIXO_ROW(w);
    w->feat = fivo_ctx_alloc(ctx, sizeof(float) * T * rows * HL);
    w->fut = fivo_ctx_alloc(ctx, sizeof(float) * T * (size_t)w->B * (size_t)s->F);
    w->anc = fivo_ctx_alloc(ctx, sizeof(int32_t) * T * rows);
    w->input = fivo_ctx_alloc(ctx, sizeof(float) * rows * (HL + (size_t)s->F));
    w->log_r = fivo_ctx_alloc(ctx, sizeof(float) * rows);
    w->log_r_all = fivo_ctx_alloc(ctx, sizeof(float) * T * rows);
    if (w->feat == NULL || w->fut == NULL || w->anc == NULL || w->input == NULL ||
        w->log_r == NULL || w->log_r_all == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "sixo: arena exhausted");
    memset(w->fut, 0, sizeof(float) * T * (size_t)w->B * (size_t)s->F);
    fivo_model wrapped = {.vt = &TWISTED_VT, .vt_size = sizeof TWISTED_VT, .self = w,
                          .name = model->name, .extension_data = NULL};
    fivo_smc_options o = {.num_particles = num_particles, .criterion = s->criterion,
                          .ess_threshold = s->ess_threshold, .resampler = resampler};
    fivo_status st = fivo_smc_run(ctx, &wrapped, batch, &o, out, err);
    if (st != FIVO_OK)
        return st;
    s->last_res = *out;
    s->last_w = w;
    /* the model's own state for sampling after the bound */
    if (out->final_state.count == w->inner_count + 1)
        out->final_state.count = w->inner_count;
    s->last_ctx = ctx;
    s->last_batch = batch;
    return FIVO_OK;
}

static fivo_status train_loss(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                              fivo_tensor **loss, fivo_bound_metric *metrics, int *num_metrics,
                              fivo_error *err)
{
    sixo *s = self;
    if (s->last_ctx != ctx || s->last_batch != batch)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "sixo: train_loss without a compute on that batch just before");
    s->last_ctx = NULL; /* once per compute */
    fivo_status st = classifier_loss(ctx, s, s->last_w, &s->last_res, err);
    if (st != FIVO_OK)
        return st;
    metrics[0] = (fivo_bound_metric){"classifier_loss", s->metric_loss};
    metrics[1] = (fivo_bound_metric){"classifier_accuracy", s->metric_acc};
    *num_metrics = 2;
    *loss = s->loss;
    return FIVO_OK;
}

static const fivo_bound_vtable VTABLE = {
    .create = create,
    .destroy = destroy,
    .compute = compute,
    .bind = bind,
    .train_loss = train_loss,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_BOUND,
    .name = "sixo",
    .version = "1.0.0",
    .description = "FIVO twisted by r(z_t, x_{t+1:T}) learned by density-ratio estimation (SIXO, "
                   "Lawson et al. 2022)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
