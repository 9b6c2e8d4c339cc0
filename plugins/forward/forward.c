/* The reference's experimental "forward" toy model (experimental/models.py,
 * Model with P / BimodalPriorP / ShortChainNonlinearP): a 1-D latent chain
 * z_0 .. z_{T-1} observed once, at its end, through x = z_T:
 *   unimodal   z_0 ~ N(0, v),  z_t ~ N(z_{t-1} + b_t, v),  x ~ N(z_{T-1} + b_T, v)
 *   bimodal    as unimodal, but z_0 ~ w N(m, v) + (1 - w) N(-m, v)
 *   nonlinear  z_0 ~ N(0, v),  z_t ~ N(g(z_{t-1}), v),  x ~ N(g(z_{T-1}), v_obs)
 *              with g = round (transition_type=round) or the identity
 * (b_1 .. b_T: the "bs", zero unless use_bs; trained only with train_p).
 * The proposal q(z_t) = N(mu_t, max(softplus(s_t), sigma_min)) has, per step:
 *   normal       mu_t = w_t . [x, z_{t-1}] + c_t
 *   simple_mean  mu_t = c_t
 *   prev_state   mu_t = w_t z_{t-1} + c_t
 *   observation  mu_t = w_t x + c_t
 * initialised as the reference: w, s ~ U(0, 1), c = 0 (w and the step-0 mean
 * zero when use_bs is off). The data (the toy dataset) gives x at every step
 * of a length-T sequence; the model reads the last one.
 *
 * log p(x) is exact: a Gaussian (unimodal; nonlinear with the identity), a
 * mixture of two Gaussians (bimodal), and for round transitions a sum over
 * the integer cells of round(z_t) (the chain only sees z through round). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/ext_tilt.h>
#include <fivo/fivo.h>

#define FWD_LOG_2PI 1.8378770664093454836

typedef enum p_kind { P_UNIMODAL, P_BIMODAL, P_NONLINEAR } p_kind;
typedef enum q_kind { Q_NORMAL, Q_SIMPLE_MEAN, Q_PREV_STATE, Q_OBSERVATION } q_kind;

static const char *const P_NAMES[] = {"unimodal", "bimodal", "nonlinear"};
static const char *const Q_NAMES[] = {"normal", "simple_mean", "prev_state", "observation"};

typedef struct forward {
    int T;
    p_kind p;
    q_kind q;
    double v, v_obs, weight, mode_mean, sigma_min;
    bool round_tr, train_p;
    double *b;          /* [T] constant bs (train_p off) */
    fivo_tensor **pb;   /* [T] trainable bs (train_p on) */
    fivo_tensor **qw, **qc, **qs; /* [T] proposal weight, mean/bias, raw variance */
    /* Per batch (arena tensors). */
    int R, len;
    fivo_tensor *x, *zeros, *psig, *xsig;
    /* The last propose_and_weight's z_t and emission term, for the tilt
     * extension's step_terms (arena, valid until the ctx is reset). */
    fivo_tensor *last_z, *last_lpx;
    int last_t;
} forward;

/* Which p_type each p-specific key applies to (refused elsewhere, naming it). */
static const struct {
    const char *key;
    p_kind only;
} P_SPECIFIC[] = {
    {"bimodal_prior_weight", P_BIMODAL},
    {"bimodal_prior_mean", P_BIMODAL},
    {"transition_type", P_NONLINEAR},
    {"observation_variance", P_NONLINEAR},
};

static const fivo_option OPTIONS[] = {
    {"p_type", FIVO_OPTION_STRING, "unimodal",
     "the generative model: unimodal, bimodal (two-mode prior on z_0) or nonlinear",
     "unimodal|bimodal|nonlinear", NULL, NULL},
    {"q_type", FIVO_OPTION_STRING, "normal",
     "proposal mean: normal (linear in x and z_{t-1}), simple_mean (a constant), prev_state "
     "(linear in z_{t-1}) or observation (linear in x)",
     "normal|simple_mean|prev_state|observation", NULL, NULL},
    {"num_timesteps", FIVO_OPTION_INT, "5", "latent steps T (x = z_T is observed)", NULL, "1",
     "4096"},
    {"variance", FIVO_OPTION_DOUBLE, "0.1", "transition variance v (run.sh: 0.1)", NULL, ">0",
     NULL},
    {"train_p", FIVO_OPTION_BOOL, "false",
     "train the model's bs (unimodal and bimodal; run.sh: off)", NULL, NULL, NULL},
    {"use_bs", FIVO_OPTION_BOOL, "false",
     "drift terms b_t ~ U(0, 1) in the data and initial model (unimodal, bimodal); off: all "
     "zero, and q's step-0 mean starts at 0", NULL, NULL, NULL},
    {"bimodal_prior_weight", FIVO_OPTION_DOUBLE, "0.5",
     "p_type=bimodal only: probability w of the mode at +bimodal_prior_mean", NULL, "0", "1"},
    {"bimodal_prior_mean", FIVO_OPTION_DOUBLE, "1",
     "p_type=bimodal only: the modes of z_0 are at +-m", NULL, NULL, NULL},
    {"transition_type", FIVO_OPTION_STRING, "standard",
     "p_type=nonlinear only: transition mean z_{t-1} (standard) or round(z_{t-1}) (round)",
     "standard|round", NULL, NULL},
    {"observation_variance", FIVO_OPTION_DOUBLE, NULL,
     "p_type=nonlinear only: variance of x given z_{T-1} (default: variance)", NULL, ">0",
     NULL},
    {"sigma_min", FIVO_OPTION_DOUBLE, "1e-5", "floor of the proposal variance", NULL, ">0", NULL},
};

#define ROWS FIVO_OPTION_ROWS(OPTIONS)

static void destroy(void *self)
{
    forward *m = self;
    if (m == NULL)
        return;
    free(m->b);
    free(m->pb);
    free(m);
}

static int index_of(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* A U(0, 1) initial value, seeded as every parameter is: the Xavier draw of
 * a rows x cols tensor is U(-a, a), a = sqrt(6 / (rows + cols)); map it. */
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

static fivo_status read_options(forward *m, const fivo_config *cfg, bool *use_bs,
                                fivo_error *err)
{
    const char *ps = NULL, *qs = NULL, *tr = NULL;
    long T = 0;
    fivo_status st = fivo_option_string(cfg, "model", ROWS, "p_type", &ps, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "model", ROWS, "q_type", &qs, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "model", ROWS, "num_timesteps", &T, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "variance", &m->v, err);
    if (st == FIVO_OK)
        st = fivo_option_bool(cfg, "model", ROWS, "train_p", &m->train_p, err);
    if (st == FIVO_OK)
        st = fivo_option_bool(cfg, "model", ROWS, "use_bs", use_bs, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "bimodal_prior_weight", &m->weight, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "bimodal_prior_mean", &m->mode_mean, err);
    if (st == FIVO_OK)
        st = fivo_option_string(cfg, "model", ROWS, "transition_type", &tr, err);
    m->v_obs = -1.0;
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "observation_variance", &m->v_obs, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "model", ROWS, "sigma_min", &m->sigma_min, err);
    if (st != FIVO_OK)
        return st;
    /* the rows' choices: both are found */
    m->p = (p_kind)index_of(ps, P_NAMES, 3);
    m->q = (q_kind)index_of(qs, Q_NAMES, 4);
    for (size_t i = 0; i < sizeof P_SPECIFIC / sizeof P_SPECIFIC[0]; i++)
        if (P_SPECIFIC[i].only != m->p && fivo_option_is_set(cfg, "model", P_SPECIFIC[i].key))
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "[model] %s applies only to p_type = %s, not to p_type = %s",
                                  P_SPECIFIC[i].key, P_NAMES[P_SPECIFIC[i].only], ps);
    /* The nonlinear p has no bs: nothing to train, and bs in its data would
     * be a drift the model cannot represent. */
    if (m->p == P_NONLINEAR && m->train_p)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] train_p = true does not apply to p_type = nonlinear (its p "
                              "has no parameters)");
    if (m->p == P_NONLINEAR && *use_bs)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] use_bs = true does not apply to p_type = nonlinear (its p "
                              "has no bs)");
    m->T = (int)T;
    if (m->v_obs < 0.0) /* unset (the row has no default): the variance */
        m->v_obs = m->v;
    if (!isfinite(m->mode_mean))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] bimodal_prior_mean = %g: expected a finite number",
                              m->mode_mean);
    m->round_tr = m->p == P_NONLINEAR && strcmp(tr, "round") == 0;
    return FIVO_OK;
}

static fivo_status create(const fivo_config *cfg, const fivo_data_spec *spec, fivo_params *params,
                          void **self, fivo_error *err)
{
    if (spec != NULL && spec->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "forward: the data has dimension %d; the forward model needs 1",
                              spec->dim);
    forward *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "forward: out of memory");
    bool use_bs = false;
    fivo_status st = read_options(m, cfg, &use_bs, err);
    if (st != FIVO_OK) {
        free(m);
        return st;
    }
    const int T = m->T;
    m->b = calloc((size_t)T, sizeof(double));
    m->pb = calloc(4 * (size_t)T, sizeof(fivo_tensor *));
    if (m->b == NULL || m->pb == NULL) {
        destroy(m);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "forward: out of memory");
    }
    m->qw = m->pb + T;
    m->qc = m->pb + 2 * T;
    m->qs = m->pb + 3 * T;
    char name[64];
    for (int t = 0; t < T && st == FIVO_OK; t++) {
        bool zero0 = t == 0 && !use_bs; /* the reference's init_mu0_to_zero */
        if (m->p != P_NONLINEAR && m->train_p) {
            snprintf(name, sizeof name, "forward/p_b_%d", t + 1);
            if ((m->pb[t] = add_uniform01(params, name, 1, !use_bs, err)) == NULL)
                st = FIVO_ERR_INVALID;
        }
        if (st == FIVO_OK && m->q != Q_SIMPLE_MEAN) {
            snprintf(name, sizeof name, "forward/q_w_%d", t);
            if ((m->qw[t] = add_uniform01(params, name, m->q == Q_NORMAL ? 2 : 1, zero0, err)) ==
                NULL)
                st = FIVO_ERR_INVALID;
        }
        if (st == FIVO_OK) {
            snprintf(name, sizeof name, "forward/q_mu_%d", t);
            /* the bias of a linear mean starts at 0; a simple mean at U(0, 1) */
            if ((m->qc[t] = add_uniform01(params, name, 1, m->q != Q_SIMPLE_MEAN || zero0,
                                          err)) == NULL)
                st = FIVO_ERR_INVALID;
        }
        if (st == FIVO_OK) {
            snprintf(name, sizeof name, "forward/q_sigma_%d", t);
            if ((m->qs[t] = add_uniform01(params, name, 1, false, err)) == NULL)
                st = FIVO_ERR_INVALID;
        }
    }
    if (st != FIVO_OK) {
        destroy(m);
        return err != NULL && err->code != FIVO_OK
                   ? err->code
                   : fivo_error_set(err, FIVO_ERR_INVALID, "forward: cannot add parameters");
    }
    /* Constant bs (train_p off): the same U(0, 1) draws the data uses would
     * need the data's seed, so an untrained model's bs start at U(0, 1) of
     * their own, as in the reference (P's initializer is independent of the
     * data's np.random). */
    if (m->p != P_NONLINEAR && !m->train_p && use_bs) {
        fivo_params *tmp = fivo_params_new(0);
        for (int t = 0; t < T && tmp != NULL; t++) {
            snprintf(name, sizeof name, "forward/p_b_%d", t + 1);
            fivo_tensor *p = add_uniform01(tmp, name, 1, false, NULL);
            m->b[t] = p != NULL ? p->data[0] : 0.0;
        }
        fivo_params_free(tmp);
    }
    *self = m;
    return FIVO_OK;
}

static fivo_status check_batch(const forward *m, const fivo_batch *batch, fivo_error *err)
{
    if (batch->dim != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "forward: observations have dimension %d; the model needs 1",
                              batch->dim);
    for (int b = 0; b < batch->batch_size; b++)
        if (batch->lengths[b] != m->T)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "forward: sequence %d has %d timesteps; the chain has "
                                  "num_timesteps = %d (x is its last value)",
                                  batch->seq_ids ? (int)batch->seq_ids[b] : b,
                                  (int)batch->lengths[b], m->T);
    return FIVO_OK;
}

static fivo_status set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                    int num_particles, fivo_error *err)
{
    forward *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    const int N = num_particles, B = batch->batch_size, R = N * B;
    m->R = R;
    m->len = batch->max_len;
    m->zeros = fivo_tensor_zeros(ctx, R, 1);
    m->x = fivo_tensor_new(ctx, R, 1);
    m->psig = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->v));
    m->xsig = fivo_tensor_fill(ctx, R, 1, (float)sqrt(m->p == P_NONLINEAR ? m->v_obs : m->v));
    m->last_z = m->last_lpx = NULL;
    if (m->x != NULL)
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                m->x->data[p * B + b] = fivo_batch_at(batch->targets, batch, m->T - 1, b)[0];
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

/* round(z) as a constant: its derivative is 0 almost everywhere. */
static fivo_tensor *round_const(fivo_ctx *ctx, const fivo_tensor *z)
{
    fivo_tensor *r = fivo_tensor_new(ctx, z->rows, z->cols);
    if (r != NULL)
        for (size_t i = 0; i < (size_t)z->rows * (size_t)z->cols; i++)
            r->data[i] = rintf(z->data[i]);
    return r;
}

/* z_{t-1} + b_t (or its rounding, for the nonlinear p). */
static fivo_tensor *transition_mean(forward *m, fivo_ctx *ctx, const fivo_tensor *z, int bi)
{
    if (m->p == P_NONLINEAR)
        return m->round_tr ? round_const(ctx, z) : (fivo_tensor *)z;
    if (m->train_p)
        return fivo_add(ctx, z, m->pb[bi]);
    return m->b[bi] != 0.0 ? fivo_add_scalar(ctx, z, (float)m->b[bi]) : (fivo_tensor *)z;
}

/* log [w N(z; m, v) + (1 - w) N(z; -m, v)] = a + softplus(c - a). */
static fivo_tensor *bimodal_log_prob(forward *m, fivo_ctx *ctx, const fivo_tensor *z)
{
    fivo_tensor *a = fivo_normal_log_prob(ctx, z, fivo_add_scalar(ctx, m->zeros, (float)m->mode_mean),
                                          m->psig);
    fivo_tensor *c = fivo_normal_log_prob(ctx, z, fivo_add_scalar(ctx, m->zeros, (float)-m->mode_mean),
                                          m->psig);
    double w = m->weight;
    if (w <= 0.0)
        return c;
    if (w >= 1.0)
        return a;
    a = fivo_add_scalar(ctx, a, (float)log(w));
    c = fivo_add_scalar(ctx, c, (float)log1p(-w));
    return fivo_add(ctx, a, fivo_softplus(ctx, fivo_sub(ctx, c, a)));
}

static fivo_status propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                      fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    forward *m = self;
    if (t < 0 || t >= m->len)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "forward: step %d outside the batch's %d steps", t, m->len);
    const fivo_tensor *z_prev = state->t[0];
    fivo_tensor *q_mu;
    switch (m->q) {
    case Q_NORMAL: {
        const fivo_tensor *parts[2] = {m->x, z_prev};
        q_mu = fivo_matmul(ctx, fivo_concat_cols(ctx, 2, parts), false, m->qw[t], false);
        break;
    }
    case Q_PREV_STATE:
        q_mu = fivo_matmul(ctx, z_prev, false, m->qw[t], false);
        break;
    case Q_OBSERVATION:
        q_mu = fivo_matmul(ctx, m->x, false, m->qw[t], false);
        break;
    default:
        q_mu = m->zeros;
        break;
    }
    q_mu = fivo_add(ctx, q_mu, m->qc[t]);
    /* scale = sqrt(max(softplus(s_t), sigma_min)) */
    fivo_tensor *q_var = fivo_clamp_min(ctx, fivo_softplus(ctx, m->qs[t]), (float)m->sigma_min);
    fivo_tensor *q_sig = fivo_add(ctx, m->zeros, fivo_exp(ctx, fivo_scale(ctx, fivo_log(ctx, q_var), 0.5f)));
    fivo_tensor *z = fivo_normal_sample(ctx, q_mu, q_sig, FIVO_RNG_PROPOSAL, (uint32_t)t);
    fivo_tensor *log_p;
    if (t == 0)
        log_p = m->p == P_BIMODAL ? bimodal_log_prob(m, ctx, z)
                                  : fivo_normal_log_prob(ctx, z, m->zeros, m->psig);
    else
        log_p = fivo_normal_log_prob(ctx, z, transition_mean(m, ctx, z_prev, t - 1), m->psig);
    fivo_tensor *lw = fivo_sub(ctx, log_p, fivo_normal_log_prob(ctx, z, q_mu, q_sig));
    m->last_lpx = m->zeros;
    if (t == m->T - 1) {
        m->last_lpx = fivo_normal_log_prob(ctx, m->x, transition_mean(m, ctx, z, m->T - 1), m->xsig);
        lw = fivo_add(ctx, lw, m->last_lpx);
    }
    m->last_z = z;
    m->last_t = t;
    out->count = 1;
    out->t[0] = z;
    *log_weight = lw;
    return fivo_ctx_status(ctx, err);
}

static double normal_cdf(double u)
{
    return 0.5 * erfc(-u / sqrt(2.0));
}

static double log_normal(double x, double mu, double var)
{
    return -0.5 * (FWD_LOG_2PI + log(var) + (x - mu) * (x - mu) / var);
}

/* log p(x) for round transitions: z only enters the chain through
 * k_t = round(z_t), so p(x) = sum_k P(k_{T-1} = k) N(x; k, v_obs) with
 * P(k_t = j) = sum_k P(k_{t-1} = k) P(round(N(k, v)) = j). The cells cover
 * 12 standard deviations of z_{T-1} (and x's): the rest is below 1e-30. */
static double round_log_likelihood(const forward *m, double x)
{
    const double sd = sqrt(m->v);
    int K = (int)ceil(12.0 * sd * sqrt((double)m->T) + 12.0 * sqrt(m->v_obs) + fabs(x)) + 2;
    int n = 2 * K + 1, W = (int)ceil(12.0 * sd) + 2;
    double *p = malloc(sizeof(double) * (size_t)n), *q = malloc(sizeof(double) * (size_t)n);
    double *cell = malloc(sizeof(double) * (size_t)(2 * W + 1));
    if (p == NULL || q == NULL || cell == NULL) {
        free(p);
        free(q);
        free(cell);
        return NAN;
    }
    /* cell[d]: P(round(N(0, v)) = d - W) */
    for (int d = -W; d <= W; d++)
        cell[d + W] = normal_cdf((d + 0.5) / sd) - normal_cdf((d - 0.5) / sd);
    for (int k = -K; k <= K; k++)
        p[k + K] = k >= -W && k <= W ? cell[k + W] : 0.0;
    for (int t = 1; t < m->T; t++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int d = -W; d <= W; d++)
                if (j - d >= 0 && j - d < n)
                    s += p[j - d] * cell[d + W];
            q[j] = s;
        }
        double *tmp = p;
        p = q;
        q = tmp;
    }
    double mx = -INFINITY;
    for (int k = -K; k <= K; k++)
        if (p[k + K] > 0.0)
            mx = fmax(mx, log(p[k + K]) + log_normal(x, k, m->v_obs));
    double s = 0.0;
    for (int k = -K; k <= K; k++)
        if (p[k + K] > 0.0)
            s += exp(log(p[k + K]) + log_normal(x, k, m->v_obs) - mx);
    free(p);
    free(q);
    free(cell);
    return mx + log(s);
}

static fivo_status log_likelihood(void *self, const fivo_batch *batch, double *out,
                                  fivo_error *err)
{
    forward *m = self;
    fivo_status st = check_batch(m, batch, err);
    if (st != FIVO_OK)
        return st;
    double sum_b = 0.0;
    for (int t = 0; t < m->T; t++)
        sum_b += m->train_p ? (double)m->pb[t]->data[0] : m->b[t];
    for (int b = 0; b < batch->batch_size; b++) {
        double x = fivo_batch_at(batch->targets, batch, m->T - 1, b)[0];
        double var = m->v * (m->T + 1); /* z_0 and T steps of variance v */
        switch (m->p) {
        case P_UNIMODAL:
            out[b] = log_normal(x, sum_b, var);
            break;
        case P_BIMODAL: {
            double w = m->weight;
            double a = w > 0 ? log(w) + log_normal(x, sum_b + m->mode_mean, var) : -INFINITY;
            double c = w < 1 ? log1p(-w) + log_normal(x, sum_b - m->mode_mean, var) : -INFINITY;
            double hi = fmax(a, c);
            out[b] = hi + log(exp(a - hi) + exp(c - hi));
            break;
        }
        case P_NONLINEAR:
            out[b] = m->round_tr ? round_log_likelihood(m, x)
                                 : log_normal(x, 0.0, m->v * m->T + m->v_obs);
            break;
        }
        if (!isfinite(out[b]))
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "forward: log p(x) of sequence %d is not finite", b);
    }
    return FIVO_OK;
}

static const fivo_model_vtable VTABLE = {
    create, destroy, set_observations, zero_state, propose_and_weight, NULL, log_likelihood, NULL};

/* The tilt extension, for fivo-aux: the bound's r(x_{t+1} | h_t, z_t) scores
 * the next step's target, which here is x itself, so the tilt is the
 * reference's lookahead r(x | z_t) (models.py R). Its inputs: h_t = one-hot
 * of t (a per-step mean offset and scale, as R's per-step parameters; the
 * true lookahead N(x; z_t + b_{t+1} + .. + b_T, v (T - t)) has them) and z_t.
 * A linear tilt (no hidden layer) holds the exact lookahead of the unimodal
 * p up to the scale's parameterisation. */
static void tilt_describe(const void *self, fivo_tilt_spec *out)
{
    const forward *m = self;
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
    const forward *m = self;
    if (state->count != 1 || state->t[0]->cols != 1 || t < 0 || t >= m->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "forward: tilt features of a foreign state");
    fivo_tensor *onehot = fivo_tensor_zeros(ctx, state->t[0]->rows, m->T);
    if (onehot != NULL)
        for (int r = 0; r < onehot->rows; r++)
            onehot->data[(size_t)r * m->T + t] = 1.0f;
    *h = onehot;
    *lat = state->t[0];
    return fivo_ctx_status(ctx, err);
}

/* (2.2) sixo's future summary: the one observation x, seen at the end. */
static int tilt_future_size(const void *self)
{
    (void)self;
    return 1;
}

static fivo_status tilt_future(const void *self, fivo_ctx *ctx, int t, const fivo_tensor **out,
                               fivo_error *err)
{
    const forward *m = self;
    (void)ctx;
    if (m->x == NULL || t < 0 || t + 1 >= m->len)
        return fivo_error_set(err, FIVO_ERR_INVALID, "forward: future summary after step %d", t);
    *out = m->x;
    return FIVO_OK;
}

/* (2.1) fivo-aux-td's terms: z_t, the emission term (0 before the last
 * step) and the next transition N(z_t + b_{t+1}, v). */
static int tilt_latent_size(const void *self)
{
    (void)self;
    return 1;
}

static fivo_status tilt_step_terms(const void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                   fivo_tilt_step *out, fivo_error *err)
{
    forward *m = (forward *)self;
    if (state->count != 1 || t < 0 || t >= m->len || m->last_z == NULL || m->last_t != t ||
        m->last_z->rows != state->t[0]->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "forward: twist terms at step %d: not the step last proposed", t);
    out->z = m->last_z;
    out->log_px = m->last_lpx;
    out->next_mu = out->next_sigma = NULL;
    if (t + 1 < m->len) {
        out->next_mu = transition_mean(m, ctx, state->t[0], t);
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
    {"model", "forward", NULL},
    {"num_timesteps", FIVO_SETTING_FROM_MODEL "num_timesteps", NULL},
    {"variance", FIVO_SETTING_FROM_MODEL "variance", NULL},
    {"observation_variance", FIVO_SETTING_FROM_MODEL "observation_variance", NULL},
    {"p_type", FIVO_SETTING_FROM_MODEL "p_type", NULL},
    {"use_bs", FIVO_SETTING_FROM_MODEL "use_bs", NULL},
    {"bimodal_prior_weight", FIVO_SETTING_FROM_MODEL "bimodal_prior_weight", NULL},
    {"bimodal_prior_mean", FIVO_SETTING_FROM_MODEL "bimodal_prior_mean", NULL},
    {"transition_type", FIVO_SETTING_FROM_MODEL "transition_type", NULL},
};
static const fivo_dataset_preference PREFERENCES[] = {
    {"toy", 0, TOY_SETTINGS, sizeof TOY_SETTINGS / sizeof TOY_SETTINGS[0]}};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "forward",
    .version = "1.0.0",
    .description = "toy Gaussian chain observed at its end (unimodal, bimodal, nonlinear), exact "
                   "log p(x)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .dataset_preferences = PREFERENCES,
    .num_dataset_preferences = sizeof PREFERENCES / sizeof PREFERENCES[0],
    .extension_data = extension_data,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
