/* A small correct model plugin, and (by one define each) the faults the
 * conformance kit (fivo-model-check) must catch:
 *   FAULT_GRADIENT     the emission weight's gradient is doubled (c_eff = 2c - sg(c))
 *   FAULT_INPLACE      propose_and_weight writes the new latent into the given state
 *   FAULT_OPTIONS      an unknown `flavour` is taken as "plain" instead of refused, and
 *                      init_scale is not checked (0 gives a flat, sigma-0.69 start)
 *   FAULT_NOISE        noise from a counter in the plugin, not the context's RNG
 *   FAULT_WEIGHT_SHAPE the log weight is rows x D (the per-dimension terms, unsummed)
 *   FAULT_ABORT        a non-positive init_scale calls abort() instead of returning an error
 *   FAULT_LIKELIHOOD   the exact log-likelihood is off by half a nat per sequence
 * The model, per data dimension j (real data only):
 *   z_0 ~ N(0, s^2), z_t ~ N(a z_{t-1}, s^2), x_t ~ N(c z_t, 1), q = the prior,
 * flavour "scaled" halves the emission coefficient. */
#include <fivo/fivo.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef TP_NAME
#define TP_NAME "faulty"
#endif

typedef struct faulty {
    int dim;
    float c_scale;
    fivo_tensor *a, *c, *raw_s;
    fivo_tensor **x; /* per batch: x[t] rows x D */
    int T, rows;
#ifdef FAULT_NOISE
    uint32_t calls;
#endif
} faulty;

static const fivo_option OPTIONS[] = {
    {"flavour", FIVO_OPTION_STRING, "plain", "plain, or scaled (half the emission coefficient)",
     "plain|scaled", NULL, NULL},
    {"init_scale", FIVO_OPTION_DOUBLE, "0.5", "initial transition scale (positive)", NULL, NULL, NULL},
};

static fivo_status create(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                          void **self, fivo_error *err)
{
    *self = NULL;
    if (spec == NULL || spec->dim <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, TP_NAME ": the data spec has no dimension");
    if (spec->kind != NULL && strcmp(spec->kind, "real") != 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, TP_NAME ": needs real data, not '%s'",
                              spec->kind);
    const char *flavour = "plain";
    double s0 = 0.5;
    fivo_status st = fivo_config_string_or(cfg, "model", "flavour", "plain", &flavour, err);
    if (st == FIVO_OK)
        st = fivo_config_double_or(cfg, "model", "init_scale", 0.5, &s0, err);
    if (st != FIVO_OK)
        return st;
#ifndef FAULT_OPTIONS
    if (strcmp(flavour, "plain") != 0 && strcmp(flavour, "scaled") != 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] flavour = '%s': expected plain or scaled", flavour);
#endif
#ifdef FAULT_ABORT
    if (!(s0 > 0.0))
        abort(); /* Wrong: bad input must be an error, never the end of the host. */
#endif
#ifndef FAULT_OPTIONS
    if (!(s0 > 0.0))
        return fivo_error_set(err, FIVO_ERR_INVALID, "[model] init_scale = %g: must be positive",
                              s0);
#endif
    faulty *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, TP_NAME ": out of memory");
    m->dim = spec->dim;
    m->c_scale = strcmp(flavour, "scaled") == 0 ? 0.5f : 1.0f;
    m->a = fivo_params_add(params, TP_NAME "/a", 1, spec->dim, FIVO_INIT_XAVIER_UNIFORM, err);
    m->c = m->a ? fivo_params_add(params, TP_NAME "/c", 1, spec->dim, FIVO_INIT_XAVIER_UNIFORM, err)
                : NULL;
    m->raw_s = m->c ? fivo_params_add(params, TP_NAME "/raw_s", 1, spec->dim, FIVO_INIT_ZEROS, err)
                    : NULL;
    if (m->raw_s == NULL) {
        free(m);
        return err != NULL && err->code != FIVO_OK ? err->code : FIVO_ERR_INVALID;
    }
    for (int j = 0; j < spec->dim; j++)
        m->raw_s->data[j] = (float)s0;
    *self = m;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch, int n,
                                    fivo_error *err)
{
    faulty *m = self;
    if (batch->dim != m->dim)
        return fivo_error_set(err, FIVO_ERR_INVALID, TP_NAME ": dimension %d, expected %d",
                              batch->dim, m->dim);
    const int B = batch->batch_size;
    m->T = batch->max_len;
    m->rows = n * B;
    m->x = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)(m->T > 0 ? m->T : 1));
    if (m->x == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, TP_NAME ": arena exhausted");
    for (int t = 0; t < m->T; t++) {
        m->x[t] = fivo_tensor_new(ctx, m->rows, m->dim);
        for (int p = 0; p < n; p++)
            for (int b = 0; b < B; b++)
                memcpy(fivo_tensor_row(m->x[t], p * B + b),
                       fivo_batch_at(batch->targets, batch, t, b), sizeof(float) * m->dim);
    }
    return fivo_ctx_status(ctx, err);
}

static fivo_status zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                              fivo_error *err)
{
    faulty *m = self;
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, m->dim);
    return fivo_ctx_status(ctx, err);
}

/* z_t from the prior: a z_{t-1} + softplus(raw_s) eps. */
static fivo_tensor *step_latent(faulty *m, fivo_ctx *ctx, const fivo_tensor *z_prev, int t)
{
    fivo_tensor *sigma = fivo_add(ctx, fivo_tensor_zeros(ctx, z_prev->rows, m->dim),
                                  fivo_softplus(ctx, m->raw_s));
    fivo_tensor *mu = t == 0 ? fivo_tensor_zeros(ctx, z_prev->rows, m->dim)
                             : fivo_mul(ctx, z_prev, m->a);
#ifdef FAULT_NOISE
    /* Wrong: the plugin's own counter, so one seed gives other numbers each run. */
    fivo_rng r = fivo_rng_make(1, FIVO_RNG_USER, m->calls++);
    fivo_tensor *eps = fivo_tensor_new(ctx, z_prev->rows, m->dim);
    for (int i = 0; i < z_prev->rows; i++)
        fivo_rng_normal(&r, (uint32_t)i, fivo_tensor_row(eps, i), m->dim);
#else
    fivo_tensor *eps = fivo_randn(ctx, FIVO_RNG_PROPOSAL, (uint32_t)t, z_prev->rows, m->dim);
#endif
    return fivo_add(ctx, mu, fivo_mul(ctx, sigma, eps));
}

static fivo_status propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                      fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    faulty *m = self;
    const fivo_tensor *z_prev = state->t[0];
    if (m->x == NULL || t < 0 || t >= m->T || z_prev->rows != m->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID, TP_NAME ": step %d does not match the batch",
                              t);
    fivo_tensor *z = step_latent(m, ctx, z_prev, t);
    const fivo_tensor *c = m->c;
#ifdef FAULT_GRADIENT
    /* Same value, twice the gradient: 2c - stop_gradient(c). */
    c = fivo_sub(ctx, fivo_scale(ctx, m->c, 2.0f), fivo_stop_gradient(ctx, m->c));
#endif
    fivo_tensor *mean = fivo_scale(ctx, fivo_mul(ctx, z, c), m->c_scale);
    fivo_tensor *ones = fivo_tensor_fill(ctx, z->rows, m->dim, 1.0f);
#ifdef FAULT_WEIGHT_SHAPE
    /* Wrong: per-dimension terms, rows x D, not summed to rows x 1. */
    fivo_tensor *d = fivo_sub(ctx, m->x[t], mean);
    *log_weight = fivo_scale(ctx, fivo_mul(ctx, d, d), -0.5f);
    (void)ones;
#else
    *log_weight = fivo_normal_log_prob(ctx, m->x[t], mean, ones);
#endif
#ifdef FAULT_INPLACE
    /* Wrong: the engine may still need the old state (and other particles share it). */
    memcpy(((fivo_tensor *)z_prev)->data, z->data, sizeof(float) * fivo_tensor_size(z));
#endif
    out->count = 1;
    out->t[0] = z;
    return fivo_ctx_status(ctx, err);
}

static fivo_status sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                               fivo_state *out, fivo_tensor **x, fivo_error *err)
{
    faulty *m = self;
    fivo_tensor *z = step_latent(m, ctx, state->t[0], t);
    fivo_tensor *mean = fivo_scale(ctx, fivo_mul(ctx, z, m->c), m->c_scale);
    *x = fivo_add(ctx, mean, fivo_randn(ctx, FIVO_RNG_EMISSION, (uint32_t)t, z->rows, m->dim));
    out->count = 1;
    out->t[0] = z;
    return fivo_ctx_status(ctx, err);
}

/* Exact log p(x) per sequence: a scalar Kalman filter per dimension. */
static fivo_status log_likelihood(void *self, const fivo_batch *batch, double *out,
                                  fivo_error *err)
{
    faulty *m = self;
    if (batch->dim != m->dim)
        return fivo_error_set(err, FIVO_ERR_INVALID, TP_NAME ": dimension %d, expected %d",
                              batch->dim, m->dim);
    for (int b = 0; b < batch->batch_size; b++) {
        double ll = 0.0;
        for (int j = 0; j < m->dim; j++) {
            const double a = m->a->data[j], c = m->c->data[j] * m->c_scale;
            const double r = m->raw_s->data[j];
            const double q2 = pow(r > 20.0 ? r : log1p(exp(r)), 2.0);
            double mean = 0.0, var = 0.0;
            for (int t = 0; t < batch->lengths[b]; t++) {
                const double mp = t == 0 ? 0.0 : a * mean, vp = t == 0 ? q2 : a * a * var + q2;
                const double sx = c * c * vp + 1.0;
                const double d = fivo_batch_at(batch->targets, batch, t, b)[j] - c * mp;
                ll += -0.5 * ((1.8378770664093454836 + log(sx)) + d * d / sx);
                const double g = vp * c / sx;
                mean = mp + g * d;
                var = (1.0 - g * c) * vp;
            }
        }
#ifdef FAULT_LIKELIHOOD
        ll += 0.5; /* Wrong: a constant dropped or added somewhere. */
#endif
        out[b] = ll;
    }
    return FIVO_OK;
}

static const fivo_model_vtable VTABLE = {
    .create = create,
    .destroy = destroy,
    .set_observations = set_observations,
    .zero_state = zero_state,
    .propose_and_weight = propose_and_weight,
    .sample_step = sample_step,
    .log_likelihood = log_likelihood,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = TP_NAME,
    .version = "1.0.0",
    .description = "a tiny random-walk model, correct or with one deliberate fault (kit tests)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    .options = OPTIONS,
    .num_options = sizeof OPTIONS / sizeof OPTIONS[0],
    .option_size = sizeof OPTIONS[0],
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
