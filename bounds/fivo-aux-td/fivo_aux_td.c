/* FIVO-AUX-TD: FIVO with a Gaussian twist over the next latent trained by
 * its own temporal-difference loss (the reference's experimental
 * fivo_aux_td, research/fivo/fivo/bounds.py).
 *
 * After step t each particle carries a twist r~_t(z_{t+1}) (twist.h), an
 * MLP "fivo-aux-td/twist" with the model's hidden layers on
 * [h_t, encoded z_t, x_{t+1}] giving its mean and precision
 * (softplus; the precision's output bias starts at -5, a nearly flat
 * twist). Its value under the model's next prior p(z_{t+1} | state_t) is
 * log r_t in closed form (0 at each sequence's last step), and the
 * incremental log weight becomes
 *     log w_t + stop_gradient(log r_t - log r_{t-1}),
 * log r_{t-1} the incoming (possibly resampled) particle's. Without
 * resampling the terms telescope to 0: the bound is FIVO's. The weights
 * never carry the twist's gradient; the twist trains on the Bellman loss
 * (twist.h), summed per sequence over its steps t >= 1 and returned
 * through the bound's train_loss slot, which the host adds to -log p-hat
 * (same per-sequence weighting) for one Adam step.
 *
 * As the reference: the Bellman term of a sequence's last step uses
 * log r~ = 0 (it trains nothing but is counted in the loss's value), the
 * next prior enters with stop_gradient, and the twist's input features
 * keep their gradient (the Bellman loss also shapes h_t and z_t's
 * encoding; [bound] twist_input_grad = false stops it there, so the twist
 * alone learns from it).
 *
 * Metrics (train reports): bellman_loss, the mean over sequences of the
 * Bellman loss / length; log_r_diff, the mean over sequences of the
 * per-particle mean of sum_{t >= 1} (log r_t - log r_{t-1}) / length.
 *
 * The model supplies h_t, encoded z_t, z_t, log p(x_t | z_t) and the next
 * prior through fivo.ext.tilt 2.1 (fivo/ext_tilt.h: features, latent_size,
 * step_terms; vrnn and srnn offer it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/ext_tilt.h>
#include <fivo/fivo.h>

#include "twist.h"

/* Starting raw precision bias: softplus(-5) = 0.0067, a nearly flat twist. */
#define PREC_BIAS0 (-5.0f)

typedef struct auxtd {
    fivo_criterion criterion;
    double ess_threshold;
    bool input_grad; /* twist_input_grad */
    /* bind */
    const void *model_self;
    const fivo_ext_tilt *ext;
    int D, Z;
    fivo_mlp twist;
    /* The last compute's loss and metrics (its ctx's arena). */
    const fivo_ctx *last_ctx;
    const fivo_batch *last_batch;
    fivo_tensor *bellman; /* B x 1 */
    double *log_r_diff;   /* [B]: per-particle mean of sum_t (log r_t - log r_{t-1}) */
} auxtd;

/* One compute's view of the model with the twist folded into its weights.
 * The state is the model's followed by one twist tensor rows x (2 Z + 1):
 * [mu | prec | log r] of r~_t, so resampling carries it with the particle. */
typedef struct twisted {
    const fivo_model *inner;
    auxtd *s;
    const fivo_batch *batch;
    int rows, N, B;
    int inner_count;
    int32_t *tile; /* [rows]: row p * B + b -> b */
    uint8_t *keep; /* [B] */
    float *scratch; /* [3 * rows] */
    fivo_tensor *bellman;
    /* Without gradients the SMC loop releases finished steps, so the
     * Bellman sum cannot be a tensor carried across steps: it is summed
     * here (the same float adds) and made a tensor after the run. */
    float *bell_sum; /* [B] */
    bool bell_any;
    double *diff;
} twisted;

static const fivo_option OPTIONS[] = {
    FIVO_SMC_CRITERION_OPTIONS,
    {"twist_input_grad", FIVO_OPTION_BOOL, "true",
     "the Bellman loss also trains the model's h_t and z_t encoding (true: as the reference)", NULL,
     NULL, NULL}};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    fivo_criterion criterion;
    double thr;
    fivo_status st =
        fivo_smc_criterion_read(cfg, FIVO_OPTION_ROWS(OPTIONS), &criterion, &thr, err);
    if (st != FIVO_OK)
        return st;
    bool input_grad = false; /* default: the row */
    if ((st = fivo_option_bool(cfg, "bound", FIVO_OPTION_ROWS(OPTIONS), "twist_input_grad",
                               &input_grad, err)) != FIVO_OK)
        return fivo_error_prefix(err, "fivo-aux-td: ");
    auxtd *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux-td: out of memory");
    s->criterion = criterion;
    s->ess_threshold = thr;
    s->input_grad = input_grad;
    *self = s;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status bind(void *self, const fivo_model *model, const fivo_data_spec *spec,
                        fivo_params *params, fivo_error *err)
{
    auxtd *s = self;
    const char *name = model != NULL && model->name != NULL ? model->name : "?";
    if (s->ext != NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux-td: bound twice");
    const fivo_ext_tilt *ext = fivo_model_ext_tilt(model);
    if (ext == NULL)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "fivo-aux-td: model '%s' does not offer the %s extension (vrnn and "
                              "srnn do)",
                              name, FIVO_EXT_TILT_URI);
    if (!fivo_ext_tilt_has_step_terms(ext)) {
        bool has_size = ext->size >= offsetof(fivo_ext_tilt, latent_size) + sizeof ext->latent_size &&
                        ext->latent_size != NULL;
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "fivo-aux-td: model '%s' offers %s without its slot '%s' (ABI 2.1); "
                              "rebuild it against this SDK (fivo-aux works with it)",
                              name, FIVO_EXT_TILT_URI, has_size ? "step_terms" : "latent_size");
    }
    fivo_tilt_spec ts;
    memset(&ts, 0, sizeof ts);
    ext->describe(model->self, &ts);
    int Z = ext->latent_size(model->self);
    if (ts.h_size < 1 || ts.lat_size < 1 || spec->dim < 1 || Z < 1 || ts.num_hidden < 0 ||
        ts.num_hidden >= FIVO_MLP_MAX_LAYERS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux-td: model '%s' describes a bad twist",
                              name);
    int sizes[FIVO_MLP_MAX_LAYERS];
    for (int i = 0; i < ts.num_hidden; i++)
        sizes[i] = ts.hidden[i];
    sizes[ts.num_hidden] = 2 * Z;
    fivo_status st = fivo_mlp_init(&s->twist, params, "fivo-aux-td/twist",
                                   ts.h_size + ts.lat_size + spec->dim, sizes, ts.num_hidden + 1, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "fivo-aux-td: ");
    fivo_tensor *b = s->twist.layers[s->twist.num_layers - 1].b;
    for (int j = 0; j < Z; j++)
        b->data[Z + j] = PREC_BIAS0;
    s->ext = ext;
    s->D = spec->dim;
    s->Z = Z;
    s->model_self = model->self;
    return FIVO_OK;
}

/* r~_t's mean and precision for the state after step t (its inner view),
 * rows x Z each, from [h_t, encoded z_t, x_{t+1}]. */
static fivo_status twist_params(fivo_ctx *ctx, const twisted *w, const fivo_state *inner, int t,
                                fivo_tensor **mu, fivo_tensor **prec, fivo_error *err)
{
    const auxtd *s = w->s;
    const fivo_tensor *parts[3];
    if (s->ext->features(s->model_self, ctx, inner, t, &parts[0], &parts[1], err) != FIVO_OK)
        return FIVO_ERR_INVALID;
    if (!s->input_grad) {
        parts[0] = fivo_stop_gradient(ctx, parts[0]);
        parts[1] = fivo_stop_gradient(ctx, parts[1]);
    }
    const fivo_batch *b = w->batch;
    fivo_tensor *x_b = fivo_tensor_from(ctx, b->batch_size, s->D,
                                        b->targets + (size_t)(t + 1) * b->batch_size * s->D);
    parts[2] = fivo_gather_rows(ctx, x_b, w->tile, w->rows);
    fivo_tensor *out = fivo_mlp_forward(ctx, &s->twist, fivo_concat_cols(ctx, 3, parts));
    *mu = fivo_slice_cols(ctx, out, 0, s->Z);
    *prec = fivo_softplus(ctx, fivo_slice_cols(ctx, out, s->Z, s->Z));
    return fivo_ctx_status(ctx, err);
}

static fivo_status t_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                      int num_particles, fivo_error *err)
{
    twisted *w = self;
    const fivo_model *m = w->inner;
    w->N = num_particles;
    w->B = batch->batch_size;
    w->rows = num_particles * batch->batch_size;
    w->tile = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)w->rows);
    w->keep = fivo_ctx_alloc(ctx, (size_t)w->B);
    w->scratch = fivo_ctx_alloc(ctx, sizeof(float) * 3 * (size_t)w->rows);
    w->diff = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)w->B);
    w->bell_sum = fivo_ctx_alloc(ctx, sizeof(float) * (size_t)w->B);
    if (w->tile == NULL || w->keep == NULL || w->scratch == NULL || w->diff == NULL ||
        w->bell_sum == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux-td: arena exhausted");
    for (int r = 0; r < w->rows; r++)
        w->tile[r] = r % batch->batch_size;
    memset(w->diff, 0, sizeof(double) * (size_t)w->B);
    w->bellman = NULL;
    w->bell_any = false;
    return m->vt->set_observations(m->self, ctx, batch, num_particles, err);
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
                              "fivo-aux-td: model '%s' has %d state tensors, the twist needs one "
                              "more (at most %d)",
                              m->name, out->count, FIVO_STATE_MAX);
    w->inner_count = out->count;
    /* prec 0: a flat r~ before the first step (its Bellman term is masked) */
    out->t[out->count++] = fivo_tensor_zeros(ctx, rows, 2 * w->s->Z + 1);
    return fivo_ctx_status(ctx, err);
}

static fivo_status t_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                        fivo_state *out, fivo_tensor **log_weight,
                                        fivo_error *err)
{
    twisted *w = self;
    const auxtd *s = w->s;
    const fivo_model *m = w->inner;
    const fivo_batch *b = w->batch;
    const int Z = s->Z, rows = w->rows, N = w->N, B = w->B;
    if (state->count != w->inner_count + 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux-td at step %d: foreign state", t);
    fivo_state in = *state;
    in.count = w->inner_count;
    const fivo_tensor *prev_tw = state->t[w->inner_count];
    fivo_status st = m->vt->propose_and_weight(m->self, ctx, &in, t, out, log_weight, err);
    if (st != FIVO_OK || *log_weight == NULL)
        return st;
    fivo_tilt_step terms;
    memset(&terms, 0, sizeof terms);
    if (s->ext->step_terms(s->model_self, ctx, out, t, &terms, err) != FIVO_OK)
        return fivo_error_prefix(err, "fivo-aux-td at step %d: ", t);
    if (terms.z == NULL || terms.z->rows != rows || terms.z->cols != Z || terms.log_px == NULL ||
        terms.log_px->rows != rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td at step %d: model '%s' gave twist terms of a bad shape",
                              t, m->name);

    /* log r_t of each particle: 0 at its sequence's last step and past it. */
    fivo_tensor *mu = NULL, *prec = NULL;
    float *log_r = w->scratch, *target = w->scratch + rows, *lrt = w->scratch + 2 * rows;
    memset(log_r, 0, sizeof(float) * (size_t)rows);
    if (t + 1 < b->max_len) {
        if (terms.next_mu == NULL || terms.next_sigma == NULL)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "fivo-aux-td at step %d: model '%s' gave no next prior", t,
                                  m->name);
        if (twist_params(ctx, w, out, t, &mu, &prec, err) != FIVO_OK)
            return fivo_error_prefix(err, "fivo-aux-td at step %d: ", t);
        for (int r = 0; r < rows; r++)
            if (t < b->lengths[r % B] - 1)
                log_r[r] = (float)fivo_auxtd_log_r(fivo_tensor_row(mu, r), fivo_tensor_row(prec, r),
                                                   fivo_tensor_row(terms.next_mu, r),
                                                   fivo_tensor_row(terms.next_sigma, r), Z);
    } else {
        mu = fivo_tensor_zeros(ctx, rows, Z);
        prec = fivo_tensor_zeros(ctx, rows, Z);
    }
    fivo_tensor *log_r_t = fivo_tensor_from(ctx, rows, 1, log_r);
    const fivo_tensor *tw_parts[3] = {mu, prec, log_r_t};
    fivo_tensor *tw = fivo_concat_cols(ctx, 3, tw_parts);

    /* The weight's twist term, without gradient. */
    fivo_tensor *delta = fivo_tensor_new(ctx, rows, 1);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "fivo-aux-td at step %d: ", t);
    for (int r = 0; r < rows; r++)
        delta->data[r] = log_r[r] - fivo_tensor_row(prev_tw, r)[2 * Z];
    fivo_tensor *lw = fivo_add(ctx, *log_weight, delta);

    /* The Bellman term of r~_{t-1}, on the valid steps t >= 1. */
    bool any = false;
    for (int bb = 0; bb < B; bb++) {
        w->keep[bb] = t >= 1 && t < b->lengths[bb];
        any = any || w->keep[bb];
    }
    if (any) {
        fivo_tensor *prev_mu = fivo_slice_cols(ctx, prev_tw, 0, Z);
        fivo_tensor *prev_prec = fivo_slice_cols(ctx, prev_tw, Z, Z);
        fivo_tensor *r_tilde = fivo_auxtd_log_r_tilde(ctx, terms.z, prev_mu, prev_prec);
        /* as the reference: log r~ is 0 on a sequence's last step */
        uint8_t *live = fivo_ctx_alloc(ctx, (size_t)rows);
        if (live == NULL || fivo_ctx_status(ctx, err) != FIVO_OK)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux-td at step %d: arena exhausted", t);
        for (int r = 0; r < rows; r++)
            live[r] = t < b->lengths[r % B] - 1;
        r_tilde = fivo_select_rows(ctx, live, r_tilde, fivo_tensor_zeros(ctx, rows, 1));
        if (fivo_ctx_status(ctx, err) != FIVO_OK)
            return fivo_error_prefix(err, "fivo-aux-td at step %d: ", t);
        for (int r = 0; r < rows; r++)
            lrt[r] = r_tilde->data[r];
        fivo_auxtd_td_targets(lrt, terms.log_px->data, log_r, N, B, target);
        fivo_tensor *step = fivo_auxtd_bellman(ctx, r_tilde, target, w->keep, N, B);
        if (fivo_ctx_grad_enabled(ctx)) {
            w->bellman = w->bellman != NULL ? fivo_add(ctx, w->bellman, step) : step;
        } else {
            for (int bb = 0; bb < B; bb++)
                w->bell_sum[bb] = w->bell_any ? w->bell_sum[bb] + step->data[bb] : step->data[bb];
            w->bell_any = true;
        }
        for (int r = 0; r < rows; r++)
            if (w->keep[r % B])
                w->diff[r % B] += (double)delta->data[r] / N;
    }
    if (out->count < 1 || out->count >= FIVO_STATE_MAX)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux-td at step %d: model state of %d",
                              t, out->count);
    out->t[out->count++] = tw;
    *log_weight = lw;
    return fivo_ctx_status(ctx, err);
}

static const fivo_model_vtable TWISTED_VT = {
    .create = NULL,
    .destroy = NULL,
    .set_observations = t_set_observations,
    .zero_state = t_zero_state,
    .propose_and_weight = t_propose_and_weight,
};

static fivo_status compute(void *self, fivo_ctx *ctx, const fivo_model *model,
                           const fivo_resampler *resampler, const fivo_batch *batch,
                           int num_particles, fivo_smc_result *out, fivo_error *err)
{
    auxtd *s = self;
    s->last_ctx = NULL;
    if (s->ext == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td: no twist (the host binds the bound to the model first)");
    if (model == NULL || model->self != s->model_self)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td: called with a model other than the one it was bound to");
    if (s->criterion != FIVO_RESAMPLE_NEVER && resampler == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td: resampling needs a resampler ([resampler] plugin)");
    if (batch == NULL || batch->dim != s->D)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td: batch width %d, twist built for %d",
                              batch != NULL ? batch->dim : -1, s->D);
    twisted *w = fivo_ctx_alloc(ctx, sizeof *w);
    if (w == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux-td: arena exhausted");
    memset(w, 0, sizeof *w);
    w->inner = model;
    w->s = s;
    w->batch = batch;
    fivo_model wrapped = {.vt = &TWISTED_VT, .vt_size = sizeof TWISTED_VT, .self = w,
                          .name = model->name, .extension_data = NULL};
    fivo_smc_options o = {.num_particles = num_particles, .criterion = s->criterion,
                          .ess_threshold = s->ess_threshold, .resampler = resampler};
    /* In training the Bellman loss is one tensor summed over every step,
     * which a segmented tape would release and could not seed in its
     * backward: the filter keeps its whole tape here (memory_budget_mb
     * does not bound fivo-aux-td's training; docs/bounds.md). Without
     * gradients the sum is kept in values and segments are fine. */
    const bool whole = fivo_ctx_grad_enabled(ctx);
    const size_t budget = fivo_ctx_memory_budget(ctx);
    const int seg = fivo_ctx_segment_steps(ctx);
    if (whole) {
        fivo_ctx_set_memory_budget(ctx, 0);
        fivo_ctx_set_segment_steps(ctx, 0);
    }
    fivo_status st = fivo_smc_run(ctx, &wrapped, batch, &o, out, err);
    if (whole) {
        fivo_ctx_set_memory_budget(ctx, budget);
        fivo_ctx_set_segment_steps(ctx, seg);
    }
    if (st != FIVO_OK)
        return st;
    if (!fivo_ctx_grad_enabled(ctx) && w->bell_any)
        w->bellman = fivo_tensor_from(ctx, w->B, 1, w->bell_sum);
    /* the model's own state for sampling after the bound */
    if (out->final_state.count == w->inner_count + 1)
        out->final_state.count = w->inner_count;
    s->last_ctx = ctx;
    s->last_batch = batch;
    s->bellman = w->bellman;
    s->log_r_diff = w->diff;
    return FIVO_OK;
}

static fivo_status train_loss(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                              fivo_tensor **loss, fivo_bound_metric *metrics, int *num_metrics,
                              fivo_error *err)
{
    auxtd *s = self;
    if (s->last_ctx != ctx || s->last_batch != batch)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux-td: train_loss without a compute on that batch just before");
    double bell = 0.0, diff = 0.0;
    for (int b = 0; b < batch->batch_size; b++) {
        int len = batch->lengths[b];
        if (len <= 0)
            continue;
        if (s->bellman != NULL)
            bell += (double)s->bellman->data[b] / len;
        diff += s->log_r_diff[b] / len;
    }
    metrics[0] = (fivo_bound_metric){"bellman_loss", bell};
    metrics[1] = (fivo_bound_metric){"log_r_diff", diff};
    *num_metrics = 2;
    *loss = s->bellman;
    s->last_ctx = NULL; /* once per compute */
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
    .name = "fivo-aux-td",
    .version = "1.0.0",
    .description = "FIVO with a Gaussian twist over z_{t+1} trained by a TD (Bellman) loss "
                   "(the reference's fivo_aux_td)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
