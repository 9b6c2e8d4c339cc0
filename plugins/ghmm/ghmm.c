/* The Gaussian HMM of the reference (models/ghmm.py): 1-D latent chain
 *   z_0 ~ N(0, vz_0),  z_t | z_{t-1} ~ N(wz_t z_{t-1}, vz_t),  x_t | z_t ~ N(wx_t z_t, vx_t)
 * with per-timestep variances and weights (defaults: every variance =
 * [model] variance = 0.1, every weight 1, 5 timesteps). Its generative
 * parameters are fixed; only the learned proposals train. Proposals:
 *   prior           p(z_t | z_{t-1})
 *   true-filtering  p(z_t | z_{t-1}, x_t)
 *   true-smoothing  p(z_t | z_{t-1}, x_{t:L-1}) via backward messages: with it
 *                   every incremental weight is p(x_{t:}|z_{t-1}) / p(x_{t+1:}|z_t),
 *                   so the product is exactly p(x) (a zero-variance estimator)
 *   filtering       N(w_t . [z_{t-1}, x_t] + b_t, exp(logvar_t)), learned
 *   smoothing       N(w_t . [z_{t-1}, x_t .. x_{T-1}] + b_t, exp(logvar_t)), learned
 * (at t = 0 the inputs omit z_{t-1}), as the reference's
 * NonstationaryLinearDistribution: Xavier weights, zero bias and log variance.
 * A sequence shorter than num_timesteps is the GHMM of its own length: its
 * exact likelihood and true-smoothing messages stop at its last step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/fivo.h>

#define GHMM_LOG_2PI 1.8378770664093454836

typedef enum prop_kind {
    PROP_PRIOR,
    PROP_TRUE_FILTERING,
    PROP_TRUE_SMOOTHING,
    PROP_FILTERING,
    PROP_SMOOTHING
} prop_kind;

static const char *const PROP_NAMES[] = {"prior", "true-filtering", "true-smoothing", "filtering",
                                         "smoothing"};

typedef struct ghmm {
    int T;                          /* num_timesteps */
    double *vz, *vx, *wz, *wx;      /* [T] each; wz[0] unused (z_0 has mean 0) */
    prop_kind prop;
    fivo_tensor **pw, **pb, **plv;  /* learned proposals: [T] parameters */
    /* Per batch (arena tensors, valid until the ctx is reset). */
    int B, R, len;
    fivo_tensor **x;                /* [T]: x_t per row (R x 1) */
    fivo_tensor **psig, **xsig;     /* [T]: prior and emission scales (R x 1) */
    fivo_tensor **coef, **off, **qsig; /* [T]: true proposals, mean = coef z + off */
    fivo_tensor **fut;              /* [T]: learned smoothing, x_t .. x_{T-1} (R x (T - t)) */
    fivo_tensor *zeros;             /* R x 1 */
} ghmm;

static const fivo_option OPTIONS[] = {
    {"proposal_type", FIVO_OPTION_STRING, "filtering",
     "prior, true-filtering, true-smoothing, filtering (learned) or smoothing (learned)", "prior|true-filtering|true-smoothing|filtering|smoothing", NULL, NULL},
    {"variance", FIVO_OPTION_DOUBLE, "0.1", "every transition and emission variance", NULL, ">0", NULL},
    {"num_timesteps", FIVO_OPTION_INT, "5",
     "number of timesteps (default: the data's length, else 5)", NULL, "1", "4096"},
    {"transition_variances", FIVO_OPTION_STRING, NULL,
     "per-timestep vz_0..vz_{T-1}, comma separated (or one value)", NULL, NULL, NULL},
    {"emission_variances", FIVO_OPTION_STRING, NULL,
     "per-timestep vx_0..vx_{T-1}, comma separated (or one value)", NULL, NULL, NULL},
    {"transition_weights", FIVO_OPTION_STRING, NULL,
     "per-timestep wz_1..wz_{T-1}, comma separated (or one value); default 1", NULL, NULL, NULL},
    {"emission_weights", FIVO_OPTION_STRING, NULL,
     "per-timestep wx_0..wx_{T-1}, comma separated (or one value); default 1", NULL, NULL, NULL},
};

static void destroy(void *self)
{
    ghmm *m = self;
    if (m == NULL)
        return;
    free(m->vz);
    free(m->pw);
    free(m->x);
    free(m);
}

/* Parses "a,b,c" (or one value, repeated) into out[0..n). */
static fivo_status parse_list(const fivo_config *cfg, const char *key, double def, int n,
                              bool positive, double *out, fivo_error *err)
{
    const char *text = NULL;
    fivo_status st = fivo_option_string(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), key, &text, err);
    if (st != FIVO_OK)
        return st;
    for (int i = 0; i < n; i++)
        out[i] = def;
    if (text != NULL) {
        int count = 0;
        const char *p = text;
        double vals[4096];
        while (*p != '\0') {
            char *end;
            double v = strtod(p, &end);
            if (end == p || count >= 4096 || !isfinite(v) || (positive && !(v > 0.0)))
                return fivo_error_set(err, FIVO_ERR_INVALID,
                                      "[model] %s = '%s': value %d is not a %s number", key,
                                      text, count + 1, positive ? "positive" : "finite");
            vals[count++] = v;
            while (*end == ' ')
                end++;
            if (*end == ',')
                end++;
            else if (*end != '\0')
                return fivo_error_set(err, FIVO_ERR_INVALID,
                                      "[model] %s = '%s': expected comma-separated numbers", key,
                                      text);
            p = end;
        }
        if (count != 1 && count != n)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "[model] %s has %d values, expected 1 or %d", key, count, n);
        for (int i = 0; i < n; i++)
            out[i] = vals[count == 1 ? 0 : i];
    }
    if (positive)
        for (int i = 0; i < n; i++)
            if (!(out[i] > 0.0) || !isfinite(out[i]))
                return fivo_error_set(err, FIVO_ERR_INVALID,
                                      "[model] %s: value %g is not a positive number", key,
                                      out[i]);
    return FIVO_OK;
}

static fivo_status create(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                          void **self, fivo_error *err)
{
    if (spec != NULL && spec->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "ghmm: the data has dimension %d; the Gaussian HMM needs 1",
                              spec->dim);
    const char *prop = NULL; /* defaults: OPTIONS */
    double variance = 0;
    long num_t = 0;
    fivo_status st = fivo_option_string(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), "proposal_type", &prop, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), "variance", &variance, err);
    if (st != FIVO_OK)
        return st;
    /* The user's num_timesteps wins; the row's default yields to the data's length. */
    if (fivo_option_is_set(cfg, "model", "num_timesteps") || spec == NULL ||
        spec->num_timesteps <= 0) {
        if ((st = fivo_option_int(cfg, "model", FIVO_OPTION_ROWS(OPTIONS), "num_timesteps", &num_t, err)) != FIVO_OK)
            return st;
    } else {
        num_t = spec->num_timesteps;
    }
    if (num_t > 4096) /* the data's length, past the row's range */
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "ghmm: the data's sequences have %ld timesteps: expected 1 .. 4096",
                              num_t);
    int kind = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(prop, PROP_NAMES[i]) == 0)
            kind = i;
    if (kind < 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] proposal_type = '%s': expected prior, true-filtering, "
                              "true-smoothing, filtering or smoothing",
                              prop);

    ghmm *m = calloc(1, sizeof *m);
    int T = (int)num_t;
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "ghmm: out of memory");
    m->T = T;
    m->prop = (prop_kind)kind;
    m->vz = calloc(4 * (size_t)T, sizeof(double));
    m->pw = calloc(3 * (size_t)T, sizeof(fivo_tensor *));
    m->x = calloc(8 * (size_t)T, sizeof(fivo_tensor *));
    if (m->vz == NULL || m->pw == NULL || m->x == NULL) {
        destroy(m);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "ghmm: out of memory");
    }
    m->vx = m->vz + T;
    m->wz = m->vz + 2 * T;
    m->wx = m->vz + 3 * T;
    m->pb = m->pw + T;
    m->plv = m->pw + 2 * T;
    m->psig = m->x + T;
    m->xsig = m->x + 2 * T;
    m->coef = m->x + 3 * T;
    m->off = m->x + 4 * T;
    m->qsig = m->x + 5 * T;
    m->fut = m->x + 6 * T;

    st = parse_list(cfg, "transition_variances", variance, T, true, m->vz, err);
    if (st == FIVO_OK)
        st = parse_list(cfg, "emission_variances", variance, T, true, m->vx, err);
    if (st == FIVO_OK && T > 1)
        st = parse_list(cfg, "transition_weights", 1.0, T - 1, false, m->wz + 1, err);
    if (st == FIVO_OK)
        st = parse_list(cfg, "emission_weights", 1.0, T, false, m->wx, err);
    if (st != FIVO_OK) {
        destroy(m);
        return st;
    }

    if (m->prop == PROP_FILTERING || m->prop == PROP_SMOOTHING) {
        char name[64];
        for (int t = 0; t < T && st == FIVO_OK; t++) {
            int in = m->prop == PROP_FILTERING ? (t == 0 ? 1 : 2) : (t == 0 ? T : T - t + 1);
            snprintf(name, sizeof name, "ghmm/proposal_w_%d", t);
            m->pw[t] = fivo_params_add(params, name, in, 1, FIVO_INIT_XAVIER_UNIFORM, err);
            snprintf(name, sizeof name, "ghmm/proposal_b_%d", t);
            m->pb[t] = m->pw[t] ? fivo_params_add(params, name, 1, 1, FIVO_INIT_ZEROS, err) : NULL;
            snprintf(name, sizeof name, "ghmm/proposal_log_variance_%d", t);
            m->plv[t] = m->pb[t] ? fivo_params_add(params, name, 1, 1, FIVO_INIT_ZEROS, err) : NULL;
            if (m->plv[t] == NULL)
                st = FIVO_ERR_INVALID;
        }
        if (st != FIVO_OK) {
            destroy(m);
            return err != NULL && err->code != FIVO_OK
                       ? err->code
                       : fivo_error_set(err, FIVO_ERR_INVALID, "ghmm: cannot add parameters");
        }
    }
    *self = m;
    return FIVO_OK;
}

static fivo_status check_batch(const ghmm *m, const fivo_batch *batch, fivo_error *err)
{
    if (batch->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "ghmm: observations have dimension %d; the Gaussian HMM needs 1",
                              batch->dim);
    for (int b = 0; b < batch->batch_size; b++)
        if (batch->lengths[b] > m->T)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "ghmm: sequence %d has %d timesteps, more than num_timesteps = %d",
                                  batch->seq_ids ? (int)batch->seq_ids[b] : b,
                                  (int)batch->lengths[b], m->T);
    return FIVO_OK;
}

/* Fills coef/off/qsig for the true proposals of filter b (rows p * B + b).
 * The backward message into z_t from x_{t+1 .. L-1} is exp(-P z^2 / 2 + h z);
 * the proposal is N(z_{t-1} wz_t / vz_t + x_t wx_t / vx_t + h) / prec,
 * 1 / prec) with prec = 1 / vz_t + wx_t^2 / vx_t + P. */
static void true_proposal(ghmm *m, const fivo_batch *batch, int b, int N)
{
    int L = batch->lengths[b];
    double P = 0.0, h = 0.0; /* message into z_t from the future */
    for (int t = batch->max_len - 1; t >= 0; t--) {
        double coef, off, sig;
        if (t >= L) { /* past the end: anything finite; use the prior */
            coef = t > 0 ? m->wz[t] : 0.0;
            off = 0.0;
            sig = sqrt(m->vz[t]);
        } else {
            double x = fivo_batch_at(batch->targets, batch, t, b)[0];
            if (m->prop == PROP_TRUE_FILTERING)
                P = h = 0.0;
            double prec = 1.0 / m->vz[t] + m->wx[t] * m->wx[t] / m->vx[t] + P;
            coef = t > 0 ? m->wz[t] / m->vz[t] / prec : 0.0;
            off = (x * m->wx[t] / m->vx[t] + h) / prec;
            sig = sqrt(1.0 / prec);
            /* Message into z_{t-1}: integrate z_t out of
             * N(z_t; a z_{t-1}, q) N(x_t; c z_t, r) exp(-P z_t^2/2 + h z_t). */
            if (t > 0) {
                double a = m->wz[t], q = m->vz[t];
                double lin = x * m->wx[t] / m->vx[t] + h;
                P = a * a / q - (a / q) * (a / q) / prec;
                h = (a / q) * lin / prec;
            }
        }
        for (int p = 0; p < N; p++) {
            int r = p * batch->batch_size + b;
            m->coef[t]->data[r] = (float)coef;
            m->off[t]->data[r] = (float)off;
            m->qsig[t]->data[r] = (float)sig;
        }
    }
}

static fivo_status set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                    int num_particles, fivo_error *err)
{
    ghmm *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    const int N = num_particles, B = batch->batch_size, R = N * B, L = batch->max_len;
    m->B = B;
    m->R = R;
    m->len = L;
    m->zeros = fivo_tensor_zeros(ctx, R, 1);
    for (int t = 0; t < L; t++) {
        m->x[t] = fivo_tensor_new(ctx, R, 1);
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                m->x[t]->data[p * B + b] = fivo_batch_at(batch->targets, batch, t, b)[0];
        m->psig[t] = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->vz[t]));
        m->xsig[t] = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->vx[t]));
    }
    if (m->prop == PROP_TRUE_FILTERING || m->prop == PROP_TRUE_SMOOTHING) {
        for (int t = 0; t < L; t++) {
            m->coef[t] = fivo_tensor_new(ctx, R, 1);
            m->off[t] = fivo_tensor_new(ctx, R, 1);
            m->qsig[t] = fivo_tensor_new(ctx, R, 1);
        }
        for (int b = 0; b < B; b++)
            true_proposal(m, batch, b, N);
    }
    if (m->prop == PROP_SMOOTHING) {
        for (int t = 0; t < L; t++) {
            int w = m->T - t;
            m->fut[t] = fivo_tensor_zeros(ctx, R, w);
            for (int r = 0; r < R; r++)
                for (int j = 0; j < w && t + j < L; j++)
                    m->fut[t]->data[(size_t)r * w + j] = m->x[t + j]->data[r];
        }
    }
    return fivo_ctx_status(ctx, err);
}

static fivo_status zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                              fivo_error *err)
{
    (void)self;
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, 1);
    return fivo_ctx_status(ctx, err);
}

static fivo_status propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                      fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    ghmm *m = self;
    if (t < 0 || t >= m->len)
        return fivo_error_set(err, FIVO_ERR_INVALID, "ghmm: step %d outside the batch's %d steps",
                              t, m->len);
    const fivo_tensor *z_prev = state->t[0];
    fivo_tensor *p_mu = t > 0 ? fivo_scale(ctx, z_prev, (float)m->wz[t]) : m->zeros;
    fivo_tensor *q_mu = p_mu, *q_sig = m->psig[t];
    switch (m->prop) {
    case PROP_PRIOR:
        break;
    case PROP_TRUE_FILTERING:
    case PROP_TRUE_SMOOTHING:
        q_mu = t > 0 ? fivo_add(ctx, fivo_mul(ctx, z_prev, m->coef[t]), m->off[t]) : m->off[t];
        q_sig = m->qsig[t];
        break;
    case PROP_FILTERING:
    case PROP_SMOOTHING: {
        fivo_tensor *obs = m->prop == PROP_FILTERING ? m->x[t] : m->fut[t];
        fivo_tensor *inputs = obs;
        if (t > 0) {
            const fivo_tensor *parts[2] = {z_prev, obs};
            inputs = fivo_concat_cols(ctx, 2, parts);
        }
        q_mu = fivo_add(ctx, fivo_matmul(ctx, inputs, false, m->pw[t], false), m->pb[t]);
        q_sig = fivo_add(ctx, m->zeros, fivo_exp(ctx, fivo_scale(ctx, m->plv[t], 0.5f)));
        break;
    }
    }
    fivo_tensor *z = fivo_normal_sample(ctx, q_mu, q_sig, FIVO_RNG_PROPOSAL, (uint32_t)t);
    fivo_tensor *lw =
        fivo_normal_log_prob(ctx, m->x[t], fivo_scale(ctx, z, (float)m->wx[t]), m->xsig[t]);
    if (m->prop != PROP_PRIOR) /* for the prior, log p(z) - log q(z) is exactly 0 */
        lw = fivo_sub(ctx, fivo_add(ctx, lw, fivo_normal_log_prob(ctx, z, p_mu, m->psig[t])),
                      fivo_normal_log_prob(ctx, z, q_mu, q_sig));
    out->count = 1;
    out->t[0] = z;
    *log_weight = lw;
    return fivo_ctx_status(ctx, err);
}

/* Exact log p(x_{0:L-1}) by the Kalman filter, in double. */
static fivo_status log_likelihood(void *self, const fivo_batch *batch, double *out,
                                  fivo_error *err)
{
    ghmm *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    for (int b = 0; b < batch->batch_size; b++) {
        double mean = 0.0, var = 0.0, ll = 0.0;
        for (int t = 0; t < batch->lengths[b]; t++) {
            double pm = t > 0 ? m->wz[t] * mean : 0.0;
            double pv = t > 0 ? m->wz[t] * m->wz[t] * var + m->vz[t] : m->vz[t];
            double c = m->wx[t];
            double s = c * c * pv + m->vx[t];
            double x = fivo_batch_at(batch->targets, batch, t, b)[0];
            double d = x - c * pm;
            ll += -0.5 * (GHMM_LOG_2PI + log(s) + d * d / s);
            double k = pv * c / s;
            mean = pm + k * d;
            var = (1.0 - k * c) * pv;
        }
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
    .sample_step = NULL,
    .log_likelihood = log_likelihood,
};

/* Without a chosen dataset the GHMM trains on its synthetic chain data;
 * given only a path, it reads a speech-format TFRecord with one sample per
 * timestep (so its likelihood can be checked outside). */
static const fivo_setting SPEECH_SETTINGS[] = {
    {"samples_per_timestep", "1", "data_dimension"},
};
static const fivo_setting CHAIN_SETTINGS[] = {
    {"num_timesteps", FIVO_SETTING_FROM_MODEL "num_timesteps", NULL},
    {"variance", FIVO_SETTING_FROM_MODEL "variance", NULL},
};
static const fivo_dataset_preference PREFERENCES[] = {
    {"chain", 0, CHAIN_SETTINGS, sizeof CHAIN_SETTINGS / sizeof CHAIN_SETTINGS[0]},
    {"speech", 1, SPEECH_SETTINGS, sizeof SPEECH_SETTINGS / sizeof SPEECH_SETTINGS[0]},
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "ghmm",
    .version = "1.0.0",
    .description = "Gaussian HMM with 1-D states and exact likelihood (prior, true and learned proposals)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .dataset_preferences = PREFERENCES,
    .num_dataset_preferences = sizeof PREFERENCES / sizeof PREFERENCES[0],
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
