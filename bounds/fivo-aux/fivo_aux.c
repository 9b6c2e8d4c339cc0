/* FIVO-AUX: FIVO with a learned tilting function (the reference's bound
 * "fivo-aux", which builds its VRNN or SRNN with use_tilt; models/vrnn.py,
 * models/srnn.py).
 *
 * The tilt r(x_{t+1} | h_t, z_t) is an MLP on [h_t, encoded z_t] with the
 * model's hidden layers and an output of the emission's kind (Bernoulli
 * logits, bias starting at logit(clip(train mean, 1e-4, 1 - 1e-4)); or a
 * Normal's mean and raw scale), meant to approximate p(x_{t+1} | h_t, z_t).
 * Each incremental log weight of the particle filter becomes
 *     log w_t + log r_t - log r_{t-1},
 *     log r_t     = log r(x_{t+1} | h_t, z_t)   while t < length - 1, else 0,
 *     log r_{t-1} = log r(x_t | h_{t-1}, z_{t-1}) for t > 0, else 0,
 * with r_{t-1} evaluated on the incoming (possibly resampled) particles. The
 * product over t telescopes, so without resampling the bound's value is
 * FIVO's; with resampling the tilt steers which particles survive (a
 * twisted SMC, still an unbiased estimate of p(x)). The tilt has no loss of
 * its own: its parameters train through the bound like every other.
 *
 * The model supplies h_t and z_t through the fivo.ext.tilt extension
 * (fivo/ext_tilt.h; vrnn and srnn offer it); the tilt's parameters,
 * "fivo-aux/tilt/...", are registered in the model's store by the bind slot
 * (the host calls it after creating the model), so checkpoints carry them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/ext_tilt.h>
#include <fivo/fivo.h>

typedef struct aux {
    fivo_criterion criterion;
    double ess_threshold;
    /* bind */
    const void *model_self;
    const fivo_ext_tilt *ext;
    fivo_tilt_spec spec;
    int D;
    fivo_mlp tilt;
} aux;

/* One compute's view of the model with the tilt folded into its weights. */
typedef struct tilted {
    const fivo_model *inner;
    const aux *s;
    const fivo_batch *batch;
    int32_t *tile; /* [rows]: row p * B + b -> b */
    uint8_t *mask; /* [rows] */
    int rows;
} tilted;

static const fivo_option OPTIONS[] = {FIVO_SMC_CRITERION_OPTIONS};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    fivo_criterion criterion;
    double thr;
    fivo_status st =
        fivo_smc_criterion_read(cfg, FIVO_OPTION_ROWS(OPTIONS), &criterion, &thr, err);
    if (st != FIVO_OK)
        return st;
    aux *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux: out of memory");
    s->criterion = criterion;
    s->ess_threshold = thr;
    *self = s;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status bind(void *self, const fivo_model *model, const fivo_data_spec *spec,
                        fivo_params *params, fivo_error *err)
{
    aux *s = self;
    if (s->ext != NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux: bound twice");
    const fivo_ext_tilt *ext = fivo_model_ext_tilt(model);
    if (ext == NULL)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "fivo-aux: model '%s' does not offer the %s extension (vrnn and "
                              "srnn do)",
                              model->name != NULL ? model->name : "?", FIVO_EXT_TILT_URI);
    fivo_tilt_spec ts;
    memset(&ts, 0, sizeof ts);
    ext->describe(model->self, &ts);
    if (ts.h_size < 1 || ts.lat_size < 1 || spec->dim < 1 || ts.num_hidden < 0 ||
        ts.num_hidden >= FIVO_MLP_MAX_LAYERS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux: model '%s' describes a bad tilt",
                              model->name);
    int sizes[FIVO_MLP_MAX_LAYERS];
    for (int i = 0; i < ts.num_hidden; i++)
        sizes[i] = ts.hidden[i];
    sizes[ts.num_hidden] = ts.binary ? spec->dim : 2 * spec->dim;
    fivo_status st = fivo_mlp_init(&s->tilt, params, "fivo-aux/tilt", ts.h_size + ts.lat_size,
                                   sizes, ts.num_hidden + 1, err);
    if (st != FIVO_OK)
        return fivo_error_prefix(err, "fivo-aux: ");
    if (ts.binary && spec->mean != NULL) {
        /* as the emission: logits start at the train mean's */
        fivo_tensor *b = s->tilt.layers[s->tilt.num_layers - 1].b;
        for (int j = 0; j < spec->dim; j++) {
            double p = spec->mean[j];
            p = !(p >= 1e-4) ? 1e-4 : p > 1 - 1e-4 ? 1 - 1e-4 : p;
            b->data[j] = (float)log(p / (1.0 - p));
        }
    }
    s->ext = ext;
    s->spec = ts;
    s->D = spec->dim;
    s->model_self = model->self;
    return FIVO_OK;
}

/* log r(x_step | features of `state`, produced at step t_state), rows x 1. */
static fivo_tensor *log_tilt(fivo_ctx *ctx, const tilted *w, const fivo_state *state, int t_state,
                             int step, fivo_error *err)
{
    const aux *s = w->s;
    const fivo_tensor *parts[2];
    if (s->ext->features(s->model_self, ctx, state, t_state, &parts[0], &parts[1], err) != FIVO_OK)
        return NULL;
    fivo_tensor *out = fivo_mlp_forward(ctx, &s->tilt, fivo_concat_cols(ctx, 2, parts));
    const fivo_batch *b = w->batch;
    fivo_tensor *x_b = fivo_tensor_from(ctx, b->batch_size, s->D,
                                        b->targets + (size_t)step * b->batch_size * s->D);
    fivo_tensor *x = fivo_gather_rows(ctx, x_b, w->tile, w->rows);
    if (s->spec.binary)
        return fivo_bernoulli_log_prob(ctx, out, x);
    fivo_tensor *mu = fivo_slice_cols(ctx, out, 0, s->D);
    fivo_tensor *sigma = fivo_softplus(
        ctx, fivo_add_scalar(ctx, fivo_slice_cols(ctx, out, s->D, s->D), s->spec.normal_raw_sigma_bias));
    return fivo_normal_log_prob(ctx, x, mu, sigma);
}

static fivo_status t_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                      int num_particles, fivo_error *err)
{
    tilted *w = self;
    const fivo_model *m = w->inner;
    w->rows = num_particles * batch->batch_size;
    w->tile = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)w->rows);
    w->mask = fivo_ctx_alloc(ctx, (size_t)w->rows);
    if (w->tile == NULL || w->mask == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux: arena exhausted");
    for (int r = 0; r < w->rows; r++)
        w->tile[r] = r % batch->batch_size;
    return m->vt->set_observations(m->self, ctx, batch, num_particles, err);
}

static fivo_status t_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                fivo_error *err)
{
    const fivo_model *m = ((tilted *)self)->inner;
    return m->vt->zero_state(m->self, ctx, rows, out, err);
}

static fivo_status t_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                        fivo_state *out, fivo_tensor **log_weight,
                                        fivo_error *err)
{
    tilted *w = self;
    const fivo_model *m = w->inner;
    fivo_status st = m->vt->propose_and_weight(m->self, ctx, state, t, out, log_weight, err);
    if (st != FIVO_OK || *log_weight == NULL)
        return st;
    fivo_tensor *lw = *log_weight;
    if (t > 0) {
        fivo_tensor *prev = log_tilt(ctx, w, state, t - 1, t, err);
        if (prev == NULL)
            return fivo_error_prefix(err, "fivo-aux at step %d: ", t);
        lw = fivo_sub(ctx, lw, prev);
    }
    const fivo_batch *b = w->batch;
    if (t + 1 < b->max_len) {
        bool any = false;
        for (int r = 0; r < w->rows; r++) {
            w->mask[r] = t < b->lengths[r % b->batch_size] - 1;
            any = any || w->mask[r];
        }
        if (any) {
            fivo_tensor *r_t = log_tilt(ctx, w, out, t, t + 1, err);
            if (r_t == NULL)
                return fivo_error_prefix(err, "fivo-aux at step %d: ", t);
            lw = fivo_add(ctx, lw, fivo_select_rows(ctx, w->mask, r_t,
                                                    fivo_tensor_zeros(ctx, w->rows, 1)));
        }
    }
    *log_weight = lw;
    return fivo_ctx_status(ctx, err);
}

static const fivo_model_vtable TILTED_VT = {
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
    aux *s = self;
    if (s->ext == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux: no tilt (the host binds the bound to the model first)");
    if (model == NULL || model->self != s->model_self)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux: called with a model other than the one it was bound to");
    if (s->criterion != FIVO_RESAMPLE_NEVER && resampler == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "fivo-aux: resampling needs a resampler ([resampler] plugin)");
    if (batch == NULL || batch->dim != s->D)
        return fivo_error_set(err, FIVO_ERR_INVALID, "fivo-aux: batch width %d, tilt built for %d",
                              batch != NULL ? batch->dim : -1, s->D);
    tilted *w = fivo_ctx_alloc(ctx, sizeof *w);
    if (w == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "fivo-aux: arena exhausted");
    memset(w, 0, sizeof *w);
    w->inner = model;
    w->s = s;
    w->batch = batch;
    fivo_model wrapped = {.vt = &TILTED_VT, .vt_size = sizeof TILTED_VT, .self = w,
                          .name = model->name, .extension_data = NULL};
    fivo_smc_options o = {.num_particles = num_particles, .criterion = s->criterion,
                          .ess_threshold = s->ess_threshold, .resampler = resampler};
    return fivo_smc_run(ctx, &wrapped, batch, &o, out, err);
}

static const fivo_bound_vtable VTABLE = {
    .create = create, .destroy = destroy, .compute = compute, .bind = bind};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_BOUND,
    .name = "fivo-aux",
    .version = "1.0.0",
    .description = "FIVO with a learned tilt r(x_{t+1} | h_t, z_t) (the reference's fivo-aux)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
