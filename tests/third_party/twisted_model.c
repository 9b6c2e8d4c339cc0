/* A third-party model as an outside author would write it, built here in
 * tests/ (not in a bundled folder): a 1-D random walk observed in noise,
 *   z_t = z_{t-1} + N(0, v),  x_t = z_t + N(0, v),
 * with proposals the bundled models do not offer. proposal_type "twisted"
 * (its own value, the default) draws from N(z_{t-1} + k (x_t - z_{t-1}), s)
 * with a learned gain k and scale s; "bootstrap" draws from the transition.
 * Its own option twist_gain sets k's initial value. It prefers the chain
 * dataset, as the GHMM does, so it trains with no dataset flags. */
#include <fivo/fivo.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct twisted {
    int bootstrap;
    float sd; /* sqrt(variance) */
    fivo_tensor *gain, *raw_scale;
    fivo_tensor **x; /* per step: rows x 1 targets, tiled by particles */
    int steps, rows;
} twisted;

static const fivo_option OPTIONS[] = {
    {"proposal_type", FIVO_OPTION_STRING, "twisted", "twisted: learned gain; bootstrap: the prior",
     "twisted|bootstrap", NULL, NULL},
    {"twist_gain", FIVO_OPTION_DOUBLE, "0.5", "initial gain k of the twisted proposal", NULL, NULL, NULL},
    {"variance", FIVO_OPTION_DOUBLE, "0.1", "transition and emission variance", NULL, NULL, NULL},
    {"num_timesteps", FIVO_OPTION_INT, "5", "length of the chain data", NULL, NULL, NULL},
};

static fivo_status tw_create(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                             void **self, fivo_error *err)
{
    const char *prop = NULL;
    double gain = 0, variance = 0;
    fivo_status st;
    *self = NULL;
    if (spec->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "twisted: needs 1-D data, got %d", spec->dim);
    /* No fallbacks: the host gives the declared defaults. */
    if ((st = fivo_config_get_string(cfg, "model", "proposal_type", NULL, &prop, err)) != FIVO_OK ||
        (st = fivo_config_get_double(cfg, "model", "twist_gain", 0, &gain, err)) != FIVO_OK ||
        (st = fivo_config_get_double(cfg, "model", "variance", 0, &variance, err)) != FIVO_OK)
        return st;
    if (!(variance > 0.0) || !isfinite(variance))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] variance = %g: expected a positive number", variance);
    twisted *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "twisted: out of memory");
    m->bootstrap = strcmp(prop, "bootstrap") == 0;
    m->sd = (float)sqrt(variance);
    m->gain = fivo_params_add(params, "twisted/gain", 1, 1, FIVO_INIT_ZEROS, err);
    m->raw_scale = fivo_params_add(params, "twisted/raw_scale", 1, 1, FIVO_INIT_ZEROS, err);
    if (m->gain == NULL || m->raw_scale == NULL) {
        free(m);
        return err->code;
    }
    m->gain->data[0] = (float)gain;
    m->raw_scale->data[0] = (float)log(expm1(sqrt(variance)));
    *self = m;
    return FIVO_OK;
}

static void tw_destroy(void *self) { free(self); }

static fivo_status tw_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch, int n,
                                       fivo_error *err)
{
    twisted *m = self;
    int B = batch->batch_size;
    m->rows = n * B;
    m->steps = batch->max_len;
    m->x = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)(m->steps > 0 ? m->steps : 1));
    if (m->x == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "twisted: arena exhausted");
    for (int t = 0; t < m->steps; t++) {
        m->x[t] = fivo_tensor_new(ctx, m->rows, 1);
        for (int r = 0; fivo_ctx_status(ctx, NULL) == FIVO_OK && r < m->rows; r++)
            m->x[t]->data[r] = *fivo_batch_at(batch->targets, batch, t, r % B);
    }
    return fivo_ctx_status(ctx, err);
}

static fivo_status tw_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                 fivo_error *err)
{
    (void)self;
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, 1);
    return fivo_ctx_status(ctx, err);
}

static fivo_tensor *constant(fivo_ctx *ctx, int rows, float v)
{
    fivo_tensor *t = fivo_tensor_new(ctx, rows, 1);
    for (int r = 0; fivo_ctx_status(ctx, NULL) == FIVO_OK && r < rows; r++)
        t->data[r] = v;
    return t;
}

static fivo_status tw_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                         fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    twisted *m = self;
    if (t < 0 || t >= m->steps || state->t[0]->rows != m->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID, "twisted: step %d outside the batch", t);
    const fivo_tensor *z_prev = state->t[0], *x = m->x[t];
    fivo_tensor *sd = constant(ctx, m->rows, m->sd);
    fivo_tensor *z, *w;
    if (m->bootstrap) {
        z = fivo_normal_sample(ctx, z_prev, sd, FIVO_RNG_PROPOSAL, (uint32_t)t);
        w = fivo_normal_log_prob(ctx, x, z, sd);
    } else {
        fivo_tensor *q_mu = fivo_add(ctx, z_prev, fivo_mul(ctx, fivo_sub(ctx, x, z_prev), m->gain));
        fivo_tensor *q_sd = fivo_add(ctx, fivo_tensor_zeros(ctx, m->rows, 1),
                                     fivo_normal_scale(ctx, m->raw_scale, 0.0f, 1e-3f));
        z = fivo_normal_sample(ctx, q_mu, q_sd, FIVO_RNG_PROPOSAL, (uint32_t)t);
        w = fivo_sub(ctx,
                     fivo_add(ctx, fivo_normal_log_prob(ctx, z, z_prev, sd),
                              fivo_normal_log_prob(ctx, x, z, sd)),
                     fivo_normal_log_prob(ctx, z, q_mu, q_sd));
    }
    out->count = 1;
    out->t[0] = z;
    *log_weight = w;
    return fivo_ctx_status(ctx, err);
}

static const fivo_model_vtable VTABLE = {
    .create = tw_create,
    .destroy = tw_destroy,
    .set_observations = tw_set_observations,
    .zero_state = tw_zero_state,
    .propose_and_weight = tw_propose_and_weight,
};

static const fivo_setting CHAIN_SETTINGS[] = {
    {"num_timesteps", FIVO_SETTING_FROM_MODEL "num_timesteps", NULL},
    {"variance", FIVO_SETTING_FROM_MODEL "variance", NULL},
};
static const fivo_dataset_preference PREFERENCES[] = {{"chain", 0, CHAIN_SETTINGS, 2}};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "twisted",
    .version = "0.1.0",
    .description = "third-party test model: random walk with a learned-gain proposal",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .dataset_preferences = PREFERENCES,
    .num_dataset_preferences = 1,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
