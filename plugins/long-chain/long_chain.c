/* The reference's experimental "long_chain" toy model (experimental/models.py,
 * LongChainModel): a 1-D latent chain z_0 .. z_{T-1}, T = n s + 1 (n =
 * num_observations, s = steps_per_observation), observed every s steps:
 *   z_0 ~ N(0, v),  z_t ~ N(g(z_{t-1}), v),  x_k ~ N(f(z_{(k+1)s}), v_obs)
 * with g = round (transition_type=round) or the identity, and f = z
 * (observation_type=standard), z^2 (squared) or |z| (abs).
 * The proposal (LongChainQ) sees z_{t-1} and every observation not yet
 * passed: q(z_t) = N(w_t . [x_j .. x_{n-1}, z_{t-1}] + c_t,
 * max(softplus(s_t), sigma_min)), j = floor(max(t - 1, 0) / s), with
 * w, s ~ U(0, 1) and c = 0 at the start, as the reference initialises them.
 * The data (the toy dataset) is a length-T sequence holding x_k at step
 * (k + 1) s and 0 elsewhere.
 *
 * log p(x): exact (a Kalman filter) for standard observations and
 * transitions; otherwise a forward filter on a fine grid of z (1-D, so a
 * numerical integral: midpoint rule, step at most sd / 8 and 1/16, over
 * +-9 prior standard deviations of z_{T-1}; see grid()). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/ext_tilt.h>
#include <fivo/fivo.h>

#define LC_LOG_2PI 1.8378770664093454836

typedef enum obs_kind { OBS_STANDARD, OBS_SQUARED, OBS_ABS } obs_kind;
static const char *const OBS_NAMES[] = {"standard", "squared", "abs"};

typedef struct long_chain {
    int n, s, T;
    double v, v_obs, sigma_min;
    obs_kind obs;
    bool round_tr;
    fivo_tensor **qw, **qc, **qs; /* [T] */
    /* Per batch. */
    int len;
    fivo_tensor *x;                /* R x n: the observations */
    fivo_tensor *zeros, *psig, *xsig;
    /* The last propose_and_weight's z_t and emission term, for the tilt
     * extension's step_terms (arena, valid until the ctx is reset). */
    fivo_tensor *last_z, *last_lpx;
    int last_t;
} long_chain;

static const fivo_option OPTIONS[] = {
    {"num_observations", FIVO_OPTION_INT, "1", "observations n", NULL, "1", "4095"},
    {"steps_per_observation", FIVO_OPTION_INT, "5",
     "latent steps s between observations (T = n s + 1 steps)", NULL, "1", "4095"},
    {"variance", FIVO_OPTION_DOUBLE, "1", "transition variance v", NULL, ">0", NULL},
    {"observation_variance", FIVO_OPTION_DOUBLE, NULL,
     "variance of each observation (default: variance)", NULL, ">0", NULL},
    {"observation_type", FIVO_OPTION_STRING, "standard",
     "observation mean: z (standard), z^2 (squared) or |z| (abs)", "standard|squared|abs", NULL,
     NULL},
    {"transition_type", FIVO_OPTION_STRING, "standard",
     "transition mean: z_{t-1} (standard) or round(z_{t-1}) (round)", "standard|round", NULL, NULL},
    {"sigma_min", FIVO_OPTION_DOUBLE, "1e-5", "floor of the proposal variance", NULL, ">0", NULL},
};

#define ROWS FIVO_OPTION_ROWS(OPTIONS)

static void destroy(void *self)
{
    long_chain *m = self;
    if (m == NULL)
        return;
    free(m->qw);
    free(m);
}

/* U(0, 1) from the seeded Xavier draw U(-a, a), a = sqrt(6 / (rows + 1)). */
static fivo_tensor *add_uniform01(fivo_params *params, const char *name, int rows, bool zero,
                                  fivo_error *err)
{
    fivo_tensor *p = fivo_params_add(params, name, rows, 1,
                                     zero ? FIVO_INIT_ZEROS : FIVO_INIT_XAVIER_UNIFORM, err);
    if (p != NULL && !zero) {
        double a = sqrt(6.0 / (rows + 1));
        for (int i = 0; i < rows; i++)
            p->data[i] = (float)(0.5 * (p->data[i] / a + 1.0));
    }
    return p;
}

/* The first observation step t's proposal sees. */
static int first_obs(const long_chain *m, int t)
{
    return (t > 1 ? t - 1 : 0) / m->s;
}

static fivo_status create(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                          void **self, fivo_error *err)
{
    if (spec != NULL && spec->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "long_chain: the data has dimension %d; the model needs 1",
                              spec->dim);
    long n = 0, s = 0;
    double v = 0, v_obs = -1.0, sigma_min = 0;
    const char *obs = NULL, *tr = NULL;
    fivo_status st = fivo_option_int(cfg, "model", ROWS, "num_observations", &n, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "model", ROWS, "steps_per_observation", &s, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "variance", &v, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "observation_variance", &v_obs, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "model", ROWS, "observation_type", &obs, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "model", ROWS, "transition_type", &tr, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "sigma_min", &sigma_min, err);
    if (st != FIVO_OK)
        return st;
    /* ranges and choices: the rows; the product is a check across keys */
    if (n * s > 4095)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] num_observations = %ld, steps_per_observation = %ld: "
                              "expected a product below 4096", n, s);
    if (v_obs < 0.0) /* unset (the row has no default): the variance */
        v_obs = v;
    int ok = 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(obs, OBS_NAMES[i]) == 0)
            ok = i;
    long_chain *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "long_chain: out of memory");
    m->n = (int)n;
    m->s = (int)s;
    m->T = (int)(n * s + 1);
    m->v = v;
    m->v_obs = v_obs;
    m->sigma_min = sigma_min;
    m->obs = (obs_kind)ok;
    m->round_tr = strcmp(tr, "round") == 0;
    m->qw = calloc(3 * (size_t)m->T, sizeof(fivo_tensor *));
    if (m->qw == NULL) {
        free(m);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "long_chain: out of memory");
    }
    m->qc = m->qw + m->T;
    m->qs = m->qw + 2 * m->T;
    char name[64];
    for (int t = 0; t < m->T && st == FIVO_OK; t++) {
        snprintf(name, sizeof name, "long_chain/q_w_%d", t);
        m->qw[t] = add_uniform01(params, name, m->n - first_obs(m, t) + 1, false, err);
        snprintf(name, sizeof name, "long_chain/q_mu_%d", t);
        m->qc[t] = m->qw[t] ? add_uniform01(params, name, 1, true, err) : NULL;
        snprintf(name, sizeof name, "long_chain/q_sigma_%d", t);
        m->qs[t] = m->qc[t] ? add_uniform01(params, name, 1, false, err) : NULL;
        if (m->qs[t] == NULL)
            st = FIVO_ERR_INVALID;
    }
    if (st != FIVO_OK) {
        destroy(m);
        return err != NULL && err->code != FIVO_OK
                   ? err->code
                   : fivo_error_set(err, FIVO_ERR_INVALID, "long_chain: cannot add parameters");
    }
    *self = m;
    return FIVO_OK;
}

static fivo_status check_batch(const long_chain *m, const fivo_batch *batch, fivo_error *err)
{
    if (batch->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "long_chain: observations have dimension %d; the model needs 1",
                              batch->dim);
    for (int b = 0; b < batch->batch_size; b++)
        if (batch->lengths[b] != m->T)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "long_chain: sequence %d has %d timesteps; the chain has "
                                  "num_observations * steps_per_observation + 1 = %d",
                                  batch->seq_ids ? (int)batch->seq_ids[b] : b,
                                  (int)batch->lengths[b], m->T);
    return FIVO_OK;
}

/* Observation k of sequence b: the value at step (k + 1) s. */
static double obs_at(const long_chain *m, const fivo_batch *batch, int k, int b)
{
    return fivo_batch_at(batch->targets, batch, (k + 1) * m->s, b)[0];
}

static fivo_status set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                    int num_particles, fivo_error *err)
{
    long_chain *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    const int N = num_particles, B = batch->batch_size, R = N * B;
    m->len = batch->max_len;
    m->zeros = fivo_tensor_zeros(ctx, R, 1);
    m->psig = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->v));
    m->xsig = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->v_obs));
    m->last_z = m->last_lpx = NULL;
    m->x = fivo_tensor_new(ctx, R, m->n);
    if (m->x != NULL)
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                for (int k = 0; k < m->n; k++)
                    m->x->data[(size_t)(p * B + b) * m->n + k] = (float)obs_at(m, batch, k, b);
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
    long_chain *m = self;
    if (t < 0 || t >= m->len)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "long_chain: step %d outside the batch's %d steps", t, m->len);
    const fivo_tensor *z_prev = state->t[0];
    int j = first_obs(m, t);
    const fivo_tensor *parts[2] = {fivo_slice_cols(ctx, m->x, j, m->n - j), z_prev};
    fivo_tensor *q_mu = fivo_add(
        ctx, fivo_matmul(ctx, fivo_concat_cols(ctx, 2, parts), false, m->qw[t], false), m->qc[t]);
    fivo_tensor *q_var = fivo_clamp_min(ctx, fivo_softplus(ctx, m->qs[t]), (float)m->sigma_min);
    fivo_tensor *q_sig =
        fivo_add(ctx, m->zeros, fivo_exp(ctx, fivo_scale(ctx, fivo_log(ctx, q_var), 0.5f)));
    fivo_tensor *z = fivo_normal_sample(ctx, q_mu, q_sig, FIVO_RNG_PROPOSAL, (uint32_t)t);
    const fivo_tensor *p_mu = m->zeros;
    if (t > 0 && m->round_tr) { /* round(z): derivative 0 almost everywhere */
        fivo_tensor *r = fivo_tensor_new(ctx, z_prev->rows, 1);
        if (r != NULL)
            for (int i = 0; i < z_prev->rows; i++)
                r->data[i] = rintf(z_prev->data[i]);
        p_mu = r;
    } else if (t > 0) {
        p_mu = z_prev;
    }
    fivo_tensor *lw = fivo_sub(ctx, fivo_normal_log_prob(ctx, z, p_mu, m->psig),
                               fivo_normal_log_prob(ctx, z, q_mu, q_sig));
    m->last_lpx = m->zeros;
    if (t > 0 && t % m->s == 0) {
        fivo_tensor *f = z;
        if (m->obs == OBS_SQUARED)
            f = fivo_square(ctx, z);
        else if (m->obs == OBS_ABS)
            f = fivo_add(ctx, fivo_relu(ctx, z), fivo_relu(ctx, fivo_scale(ctx, z, -1.0f)));
        m->last_lpx =
            fivo_normal_log_prob(ctx, fivo_slice_cols(ctx, m->x, t / m->s - 1, 1), f, m->xsig);
        lw = fivo_add(ctx, lw, m->last_lpx);
    }
    m->last_z = z;
    m->last_t = t;
    out->count = 1;
    out->t[0] = z;
    *log_weight = lw;
    return fivo_ctx_status(ctx, err);
}

static double log_normal(double x, double mu, double var)
{
    return -0.5 * (LC_LOG_2PI + log(var) + (x - mu) * (x - mu) / var);
}

static double obs_mean(const long_chain *m, double z)
{
    return m->obs == OBS_SQUARED ? z * z : m->obs == OBS_ABS ? fabs(z) : z;
}

/* Linear-Gaussian case: the Kalman filter, in double. */
static double kalman(const long_chain *m, const fivo_batch *batch, int b)
{
    double mean = 0.0, var = m->v, ll = 0.0;
    for (int t = 1; t < m->T; t++) {
        var += m->v;
        if (t % m->s != 0)
            continue;
        double x = obs_at(m, batch, t / m->s - 1, b);
        double S = var + m->v_obs, d = x - mean, K = var / S;
        ll += log_normal(x, mean, S);
        mean += K * d;
        var *= 1.0 - K;
    }
    return ll;
}

/* Otherwise: a forward filter on a midpoint grid whose cells tile the
 * integers' rounding cells [k - 1/2, k + 1/2) (M points per unit), so a
 * round transition sums each cell's mass exactly. The host calls this on
 * every training step, so it scatters only from points that carry mass
 * (above 1e-18 of the total: after an observation the filter is narrow)
 * and cuts the transition kernel at 8 standard deviations. The midpoint
 * rule is spectrally accurate on these smooth integrands at h <= sd / 8;
 * |z|'s kink costs O(h^2), ~1e-4 nats at h = 1/16. */
static double grid(const long_chain *m, const fivo_batch *batch, int b)
{
    const double sd = sqrt(m->v);
    const int M = (int)fmax(16.0, ceil(8.0 / sd));
    const int K = (int)ceil(9.0 * sd * sqrt((double)m->T)) + 1;
    const int G = (2 * K + 1) * M, W = (int)ceil(8.0 * sd * M), C = (int)ceil(8.0 * sd) + 1;
    const double h = 1.0 / M;
    double *p = malloc(sizeof(double) * (size_t)G), *q = malloc(sizeof(double) * (size_t)G);
    double *ker = malloc(sizeof(double) * (size_t)(2 * W + 1));
    double ll = NAN;
    if (p == NULL || q == NULL || ker == NULL)
        goto out;
    for (int d = -W; d <= W; d++)
        ker[d + W] = exp(log_normal(d * h, 0.0, m->v)) * h;
    for (int i = 0; i < G; i++)
        p[i] = exp(log_normal(-K - 0.5 + (i + 0.5) * h, 0.0, m->v)) * h;
    ll = 0.0;
    for (int t = 1; t < m->T; t++) {
        double total = 0.0;
        for (int i = 0; i < G; i++)
            total += p[i];
        const double tiny = 1e-18 * total; /* its share of p(x) is below 1e-15 */
        memset(q, 0, sizeof(double) * (size_t)G);
        if (m->round_tr) {
            for (int c = 0; c <= 2 * K; c++) {
                double mass = 0.0;
                for (int i = c * M; i < (c + 1) * M; i++)
                    mass += p[i];
                if (mass <= tiny)
                    continue;
                /* N(z; c - K, v) h on the grid around the cell's centre */
                int centre = c * M + M / 2, lo = centre - C * M, hi = centre + C * M;
                for (int i = lo < 0 ? 0 : lo; i <= hi && i < G; i++)
                    q[i] += mass * exp(log_normal(-K - 0.5 + (i + 0.5) * h, c - K, m->v)) * h;
            }
        } else {
            for (int j = 0; j < G; j++) {
                if (p[j] <= tiny)
                    continue;
                int lo = j - W < 0 ? 0 : j - W, hi = j + W >= G ? G - 1 : j + W;
                const double pj = p[j], *k = ker + W - j;
                for (int i = lo; i <= hi; i++)
                    q[i] += pj * k[i];
            }
        }
        double *tmp = p;
        p = q;
        q = tmp;
        if (t % m->s != 0)
            continue;
        double x = obs_at(m, batch, t / m->s - 1, b), lmax = -INFINITY;
        for (int i = 0; i < G; i++) { /* likelihoods relative to their max */
            q[i] = log_normal(x, obs_mean(m, -K - 0.5 + (i + 0.5) * h), m->v_obs);
            lmax = fmax(lmax, q[i]);
        }
        double s = 0.0;
        for (int i = 0; i < G; i++) {
            p[i] *= exp(q[i] - lmax);
            s += p[i];
        }
        ll += lmax + log(s);
        for (int i = 0; i < G; i++)
            p[i] /= s;
    }
out:
    free(p);
    free(q);
    free(ker);
    return ll;
}

static fivo_status log_likelihood(void *self, const fivo_batch *batch, double *out,
                                  fivo_error *err)
{
    long_chain *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    for (int b = 0; b < batch->batch_size; b++) {
        out[b] = m->obs == OBS_STANDARD && !m->round_tr ? kalman(m, batch, b) : grid(m, batch, b);
        if (!isfinite(out[b]))
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "long_chain: log p(x) of sequence %d is not finite", b);
    }
    return FIVO_OK;
}

static const fivo_model_vtable VTABLE = {
    create, destroy, set_observations, zero_state, propose_and_weight, NULL, log_likelihood, NULL};

/* The tilt extension, for sixo (2.2's future): the twist's features are a
 * one-hot of t (per-step offsets, as the proposal's per-step parameters)
 * and z_t; the future after step t is the observations still to come, x_k
 * for (k + 1) s > t, the passed ones zeroed (the one-hot says which). The
 * bound's next-step tilt (fivo-aux, fivo-aux-td) sees x_{t+1}, 0 between
 * observations: it runs, but cannot see the future that sixo's does. */
static void tilt_describe(const void *self, fivo_tilt_spec *out)
{
    const long_chain *m = self;
    memset(out, 0, sizeof *out);
    out->h_size = m->T;
    out->lat_size = 1;
    out->num_hidden = 0;
    out->binary = false;
    out->normal_raw_sigma_bias = 0.5f;
}

static fivo_status tilt_features(const void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                 const fivo_tensor **h, const fivo_tensor **lat, fivo_error *err)
{
    const long_chain *m = self;
    if (state->count != 1 || state->t[0]->cols != 1 || t < 0 || t >= m->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "long_chain: tilt features of a foreign state");
    fivo_tensor *onehot = fivo_tensor_zeros(ctx, state->t[0]->rows, m->T);
    if (onehot != NULL)
        for (int r = 0; r < onehot->rows; r++)
            onehot->data[(size_t)r * m->T + t] = 1.0f;
    *h = onehot;
    *lat = state->t[0];
    return fivo_ctx_status(ctx, err);
}

static int tilt_future_size(const void *self) { return ((const long_chain *)self)->n; }

static fivo_status tilt_future(const void *self, fivo_ctx *ctx, int t, const fivo_tensor **out,
                               fivo_error *err)
{
    const long_chain *m = self;
    if (m->x == NULL || t < 0 || t + 1 >= m->len)
        return fivo_error_set(err, FIVO_ERR_INVALID, "long_chain: future summary after step %d", t);
    fivo_tensor *f = fivo_tensor_new(ctx, m->x->rows, m->n);
    if (f != NULL)
        for (int r = 0; r < f->rows; r++)
            for (int k = 0; k < m->n; k++)
                f->data[(size_t)r * m->n + k] =
                    (k + 1) * m->s > t ? m->x->data[(size_t)r * m->n + k] : 0.0f;
    *out = f;
    return fivo_ctx_status(ctx, err);
}

/* (2.1) fivo-aux-td's terms: z_t, the observation's term (0 between
 * observations) and the next transition N(g(z_t), v). */
static int tilt_latent_size(const void *self)
{
    (void)self;
    return 1;
}

static fivo_status tilt_step_terms(const void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                   fivo_tilt_step *out, fivo_error *err)
{
    const long_chain *m = self;
    if (state->count != 1 || t < 0 || t >= m->len || m->last_z == NULL || m->last_t != t ||
        m->last_z->rows != state->t[0]->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "long_chain: twist terms at step %d: not the step last proposed", t);
    out->z = m->last_z;
    out->log_px = m->last_lpx;
    out->next_mu = out->next_sigma = NULL;
    if (t + 1 < m->len) {
        const fivo_tensor *z = state->t[0];
        fivo_tensor *mu = (fivo_tensor *)z;
        if (m->round_tr) { /* round(z): a constant, as in propose_and_weight */
            mu = fivo_tensor_new(ctx, z->rows, 1);
            if (mu != NULL)
                for (int i = 0; i < z->rows; i++)
                    mu->data[i] = rintf(z->data[i]);
        }
        out->next_mu = mu;
        out->next_sigma = m->psig;
    }
    return fivo_ctx_status(ctx, err);
}

static const fivo_ext_tilt TILT = {sizeof(fivo_ext_tilt), tilt_describe,    tilt_features,
                                   tilt_latent_size,      tilt_step_terms,  tilt_future_size,
                                   tilt_future};

static const void *extension_data(const char *uri)
{
    return strcmp(uri, FIVO_EXT_TILT_URI) == 0 ? &TILT : NULL;
}

/* The toy data, drawn with this model's values (observation_variance only
 * when set: it has no default, and the data's is the variance too). */
static const fivo_setting TOY_SETTINGS[] = {
    {"model", "long_chain", NULL},
    {"num_observations", FIVO_SETTING_FROM_MODEL "num_observations", NULL},
    {"steps_per_observation", FIVO_SETTING_FROM_MODEL "steps_per_observation", NULL},
    {"variance", FIVO_SETTING_FROM_MODEL "variance", NULL},
    {"observation_variance", FIVO_SETTING_FROM_MODEL "observation_variance", NULL},
    {"observation_type", FIVO_SETTING_FROM_MODEL "observation_type", NULL},
    {"transition_type", FIVO_SETTING_FROM_MODEL "transition_type", NULL},
};
static const fivo_dataset_preference PREFERENCES[] = {
    {"toy", 0, TOY_SETTINGS, sizeof TOY_SETTINGS / sizeof TOY_SETTINGS[0]}};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "long_chain",
    .version = "1.0.0",
    .description = "toy 1-D chain observed every s steps (standard, squared or abs observations; "
                   "round transitions), log p(x) exact or by quadrature",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .dataset_preferences = PREFERENCES,
    .num_dataset_preferences = sizeof PREFERENCES / sizeof PREFERENCES[0],
    .extension_data = extension_data,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
