/* lgssm: a third-party model plugin for fivo, built against the installed SDK
 * only (see README.md next to this file and sdk/README.md).
 *
 * A linear-Gaussian state-space model, independently in each of the D data
 * dimensions (latent size = data size):
 *
 *   z_0 ~ N(0, s0^2)        z_t = a * z_{t-1} + N(0, q^2)        x_t = c * z_t + N(0, r^2)
 *
 * with a learned proposal that is linear in the prior mean and the current
 * observation (the family that contains the locally optimal proposal):
 *
 *   q(z_t | z_{t-1}, x_t) = N(u * prior_mean_t + v * x_t + w, p^2)
 *
 * Every coefficient is a 1 x D parameter. Scales are max(softplus(raw), 1e-3),
 * initialised from v = [model] variance (the chain dataset's variance) as
 * q = r = p = sqrt(v) and s0 = sqrt(2 v), with a = c = u = 1 and v = w = 0:
 * training starts at the bootstrap proposal on exactly the model that
 * generates the chain data (z_{-1} ~ N(0, v), z_t ~ N(z_{t-1}, v),
 * x_t ~ N(z_t, v)).
 *
 * Because the model is linear-Gaussian, log p(x) is exact by a Kalman filter:
 * the optional log_likelihood slot, so the host can report how far below the
 * exact likelihood the bound is. */
#include <fivo/fivo.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LGSSM_SIGMA_MIN 1e-3f
#define LGSSM_LOG_2PI 1.8378770664093454836

typedef struct lgssm {
    int dim;
    int prior_proposal; /* proposal_type = prior: q is the transition (bootstrap filter) */
    /* Resolved once at creation; the store owns them. */
    fivo_tensor *a, *raw_q, *raw_s0; /* transition, its scale, initial scale */
    fivo_tensor *c, *raw_r;          /* emission, its scale */
    fivo_tensor *u, *v, *w, *raw_p;  /* proposal */
    /* Per batch (ctx arena memory, valid until the ctx is reset). */
    fivo_tensor **x;                 /* x[t]: rows x D, the batch's targets tiled by particles */
    int max_len, rows;
} lgssm;

/* ---- creation ------------------------------------------------------------ */

static const fivo_option OPTIONS[] = {
    {"variance", FIVO_OPTION_DOUBLE, "0.1",
     "initial transition, emission and proposal variance (the chain data's variance)", NULL, ">0", NULL},
    {"proposal_type", FIVO_OPTION_STRING, "filtering",
     "filtering: learned q(z_t | z_{t-1}, x_t); prior: the transition (bootstrap)", "filtering|prior", NULL, NULL},
};

static double softplus_inverse(double y)
{
    return y > 20.0 ? y : log(expm1(y));
}

/* The value a scale parameter stands for, as the forward pass computes it. */
static double scale_of(const fivo_tensor *raw, int j)
{
    double r = raw->data[j];
    double sp = r > 20.0 ? r : log1p(exp(r));
    return sp > LGSSM_SIGMA_MIN ? sp : LGSSM_SIGMA_MIN;
}

static fivo_tensor *add_param(fivo_params *params, const char *name, int dim, double value,
                              fivo_error *err)
{
    fivo_tensor *t = fivo_params_add(params, name, 1, dim, FIVO_INIT_ZEROS, err);
    if (t != NULL)
        for (int j = 0; j < dim; j++)
            t->data[j] = (float)value;
    return t;
}

static fivo_status lgssm_create(const fivo_config *cfg, const fivo_data_spec *spec,
                                fivo_params *params, void **self, fivo_error *err)
{
    double variance;
    const char *proposal;
    fivo_status st;
    *self = NULL;
    if (spec->dim <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "lgssm: data dimension %d must be positive",
                              spec->dim);
    if (spec->kind != NULL && strcmp(spec->kind, "real") != 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "lgssm: needs real-valued data (Normal emission), the dataset is '%s'",
                              spec->kind);
    if ((st = fivo_option_double(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), "variance", &variance, err)) != FIVO_OK)
        return st;
    if ((st = fivo_option_string(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), "proposal_type", &proposal, err)) !=
        FIVO_OK)
        return st;
    if (strcmp(proposal, "filtering") != 0 && strcmp(proposal, "prior") != 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] proposal_type = '%s': expected 'filtering' or 'prior'",
                              proposal);

    lgssm *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "lgssm: out of memory");
    m->dim = spec->dim;
    m->prior_proposal = strcmp(proposal, "prior") == 0;
    const double raw_sd = softplus_inverse(sqrt(variance));
    const double raw_sd0 = softplus_inverse(sqrt(2.0 * variance)); /* z_0 = z_{-1} + noise */
    const int d = spec->dim;
    if ((m->a = add_param(params, "lgssm/transition/a", d, 1.0, err)) == NULL ||
        (m->raw_q = add_param(params, "lgssm/transition/raw_scale", d, raw_sd, err)) == NULL ||
        (m->raw_s0 = add_param(params, "lgssm/initial/raw_scale", d, raw_sd0, err)) == NULL ||
        (m->c = add_param(params, "lgssm/emission/c", d, 1.0, err)) == NULL ||
        (m->raw_r = add_param(params, "lgssm/emission/raw_scale", d, raw_sd, err)) == NULL) {
        free(m);
        return err != NULL && err->code != FIVO_OK ? err->code : FIVO_ERR_INVALID;
    }
    if (!m->prior_proposal &&
        ((m->u = add_param(params, "lgssm/proposal/u", d, 1.0, err)) == NULL ||
         (m->v = add_param(params, "lgssm/proposal/v", d, 0.0, err)) == NULL ||
         (m->w = add_param(params, "lgssm/proposal/w", d, 0.0, err)) == NULL ||
         (m->raw_p = add_param(params, "lgssm/proposal/raw_scale", d, raw_sd, err)) == NULL)) {
        free(m);
        return err != NULL && err->code != FIVO_OK ? err->code : FIVO_ERR_INVALID;
    }
    *self = m;
    return FIVO_OK;
}

static void lgssm_destroy(void *self)
{
    free(self); /* parameters belong to the store, batch tensors to the ctx */
}

/* ---- one batch ----------------------------------------------------------- */

static fivo_status lgssm_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                          int num_particles, fivo_error *err)
{
    lgssm *m = self;
    if (batch->dim != m->dim)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "lgssm: batch has dimension %d, the model was created for %d",
                              batch->dim, m->dim);
    const int B = batch->batch_size, T = batch->max_len, D = m->dim;
    m->rows = num_particles * B;
    m->max_len = T;
    m->x = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)(T > 0 ? T : 1));
    if (m->x == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "lgssm: arena exhausted");
    /* Tile once per batch so every step reads a ready rows x D tensor. */
    for (int t = 0; t < T; t++) {
        fivo_tensor *xt = fivo_tensor_new(ctx, m->rows, D);
        for (int p = 0; p < num_particles; p++)
            for (int b = 0; b < B; b++)
                memcpy(fivo_tensor_row(xt, p * B + b), fivo_batch_at(batch->targets, batch, t, b),
                       sizeof(float) * (size_t)D);
        m->x[t] = xt;
    }
    return fivo_ctx_status(ctx, err);
}

static fivo_status lgssm_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                    fivo_error *err)
{
    lgssm *m = self;
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, m->dim);
    return fivo_ctx_status(ctx, err);
}

/* rows x D copy of a 1 x D scale: the fused Normal ops take full shapes. */
static fivo_tensor *scale_rows(fivo_ctx *ctx, const fivo_tensor *raw, int rows)
{
    fivo_tensor *sigma = fivo_normal_scale(ctx, raw, 0.0f, LGSSM_SIGMA_MIN);
    return fivo_add(ctx, fivo_tensor_zeros(ctx, rows, raw->cols), sigma);
}

/* The transition's mean and scale for step t given z_{t-1}. */
static void prior_at(lgssm *m, fivo_ctx *ctx, const fivo_tensor *z_prev, int t,
                     fivo_tensor **mu, fivo_tensor **sigma)
{
    const int rows = z_prev->rows;
    if (t == 0) {
        *mu = fivo_tensor_zeros(ctx, rows, m->dim);
        *sigma = scale_rows(ctx, m->raw_s0, rows);
    } else {
        *mu = fivo_mul(ctx, z_prev, m->a);
        *sigma = scale_rows(ctx, m->raw_q, rows);
    }
}

static fivo_status lgssm_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state,
                                            int t, fivo_state *out, fivo_tensor **log_weight,
                                            fivo_error *err)
{
    lgssm *m = self;
    const fivo_tensor *z_prev = state->t[0];
    if (m->x == NULL || t < 0 || t >= m->max_len || z_prev->rows != m->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "lgssm: step %d with %d rows does not match the batch set by "
                              "set_observations (%d steps, %d rows)",
                              t, z_prev->rows, m->max_len, m->rows);
    const fivo_tensor *x = m->x[t];
    fivo_tensor *p_mu, *p_sigma;
    prior_at(m, ctx, z_prev, t, &p_mu, &p_sigma);

    fivo_tensor *z, *log_w;
    fivo_tensor *e_mu;
    if (m->prior_proposal) {
        /* Bootstrap: q = p(z_t | z_{t-1}), so the weight is the emission alone. */
        z = fivo_normal_sample(ctx, p_mu, p_sigma, FIVO_RNG_PROPOSAL, (uint32_t)t);
        e_mu = fivo_mul(ctx, z, m->c);
        log_w = fivo_normal_log_prob(ctx, x, e_mu, scale_rows(ctx, m->raw_r, z->rows));
    } else {
        fivo_tensor *q_mu = fivo_add(ctx, fivo_add(ctx, fivo_mul(ctx, p_mu, m->u),
                                                   fivo_mul(ctx, x, m->v)),
                                     m->w);
        fivo_tensor *q_sigma = scale_rows(ctx, m->raw_p, z_prev->rows);
        z = fivo_normal_sample(ctx, q_mu, q_sigma, FIVO_RNG_PROPOSAL, (uint32_t)t);
        e_mu = fivo_mul(ctx, z, m->c);
        fivo_tensor *log_p = fivo_add(
            ctx, fivo_normal_log_prob(ctx, z, p_mu, p_sigma),
            fivo_normal_log_prob(ctx, x, e_mu, scale_rows(ctx, m->raw_r, z->rows)));
        log_w = fivo_sub(ctx, log_p, fivo_normal_log_prob(ctx, z, q_mu, q_sigma));
    }
    out->count = 1;
    out->t[0] = z;
    *log_weight = log_w;
    return fivo_ctx_status(ctx, err);
}

static fivo_status lgssm_sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                     fivo_state *out, fivo_tensor **x, fivo_error *err)
{
    lgssm *m = self;
    fivo_tensor *p_mu, *p_sigma;
    prior_at(m, ctx, state->t[0], t, &p_mu, &p_sigma);
    fivo_tensor *z = fivo_normal_sample(ctx, p_mu, p_sigma, FIVO_RNG_PROPOSAL, (uint32_t)t);
    *x = fivo_normal_sample(ctx, fivo_mul(ctx, z, m->c), scale_rows(ctx, m->raw_r, z->rows),
                            FIVO_RNG_EMISSION, (uint32_t)t);
    out->count = 1;
    out->t[0] = z;
    return fivo_ctx_status(ctx, err);
}

/* Exact log p(x_{0:len-1}) per sequence: a scalar Kalman filter per
 * dimension, in double, with the parameters' current values. */
static fivo_status lgssm_log_likelihood(void *self, const fivo_batch *batch, double *out,
                                        fivo_error *err)
{
    lgssm *m = self;
    if (batch->dim != m->dim)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "lgssm: batch has dimension %d, the model was created for %d",
                              batch->dim, m->dim);
    for (int b = 0; b < batch->batch_size; b++) {
        double ll = 0.0;
        for (int j = 0; j < m->dim; j++) {
            const double a = m->a->data[j], c = m->c->data[j];
            const double q = scale_of(m->raw_q, j), r = scale_of(m->raw_r, j);
            const double s0 = scale_of(m->raw_s0, j);
            double mean = 0.0, var = 0.0; /* filtered moments of z_{t-1} */
            for (int t = 0; t < batch->lengths[b]; t++) {
                const double m_pred = t == 0 ? 0.0 : a * mean;
                const double v_pred = t == 0 ? s0 * s0 : a * a * var + q * q;
                const double s = c * c * v_pred + r * r; /* predictive variance of x_t */
                const double resid = fivo_batch_at(batch->targets, batch, t, b)[j] - c * m_pred;
                ll += -0.5 * (LGSSM_LOG_2PI + log(s) + resid * resid / s);
                const double gain = v_pred * c / s;
                mean = m_pred + gain * resid;
                var = (1.0 - gain * c) * v_pred;
            }
        }
        if (!isfinite(ll))
            return fivo_error_set(err, FIVO_ERR_NUMERIC,
                                  "lgssm: exact log-likelihood of sequence %d is not finite", b);
        out[b] = ll;
    }
    return FIVO_OK;
}

/* ---- the descriptor: the one exported symbol ------------------------------ */

static const fivo_model_vtable VTABLE = {
    .create = lgssm_create,
    .destroy = lgssm_destroy,
    .set_observations = lgssm_set_observations,
    .zero_state = lgssm_zero_state,
    .propose_and_weight = lgssm_propose_and_weight,
    .sample_step = lgssm_sample_step,
    .log_likelihood = lgssm_log_likelihood,
};

/* With no dataset chosen, the synthetic chain data, of this model's
 * variance: the model hands it over here (the host fills [dataset]
 * variance from [model]), so the dataset reads only its own section. The
 * data's length is the dataset's own key ([dataset] num_timesteps). */
static const fivo_setting lgssm_chain_settings[] = {
    {"variance", FIVO_SETTING_FROM_MODEL "variance", NULL},
};
static const fivo_dataset_preference lgssm_preferences[] = {
    {"chain", 0, lgssm_chain_settings, sizeof lgssm_chain_settings / sizeof lgssm_chain_settings[0]},
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "lgssm",
    .version = "1.0.0",
    .description = "linear-Gaussian state-space model with a learned linear proposal (SDK example)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .dataset_preferences = lgssm_preferences,
    .num_dataset_preferences = sizeof lgssm_preferences / sizeof lgssm_preferences[0],
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    /* Always answer: on a major mismatch the host refuses the module with a
     * message naming both ABIs, which a NULL here could not tell it.
     * FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR) at file scope writes this
     * same function (the bundled plugins use it); it is spelled out here as
     * the guide (sdk/README.md, "The descriptor") shows it. */
    (void)host_abi_major;
    (void)host_abi_minor;
    return &DESCRIPTOR;
}
