/* Optimal-transport resampling (Corenflos, Thornton, Deligiannidis & Doucet
 * 2021, "Differentiable particle filtering via entropy-regularized optimal
 * transport"; their code is filterflow).
 *
 * The weighted particles (x_j, wbar_j) are moved onto N equally weighted
 * ones by the entropy-regularised transport plan P between the weighted and
 * the uniform measure on the same points:
 *     P = argmin <P, C> - eps H(P),  rows of P sum to 1/N, columns to wbar,
 *     C_ij = |x_i - x_j|^2 / scale.
 * New particle i = N sum_j P_ij x_j: the blend A = N P (row-stochastic) that
 * the engine applies to every state tensor, after which the weights restart
 * at 0. The blend is differentiable in the log weights and in the particles.
 *
 * Sinkhorn in the log domain with potentials a (new side), b (old side), in
 * units of eps, starting at 0:
 *     b_j = -lse_i(a_i - log N - C_ij / eps),  a_i = -lse_j(log wbar_j + b_j - C_ij / eps)
 * ending on an a-update so rows of A sum to 1 exactly (to rounding). The
 * iterations run on the tape (unrolled), so the gradient is the exact
 * derivative of the blend that the forward pass computed; they stop after
 * max_iterations or once no a_i moved by more than tolerance / eps (a value
 * test, so the finite-difference checks see the same iteration count).
 *
 * x: the particles the engine passes (every state tensor, concatenated by
 * columns). scale: cost_scale when > 0, else the mean squared distance over
 * all pairs of the filter (on the tape), so eps is relative to the cloud's
 * spread whatever the state's units (filterflow scales by the diameter; a
 * mean is differentiable). Log weights below -80 (including -inf) are clamped to
 * -80 so no inf enters the arithmetic (exp(-80) is 0 next to any finite
 * weight's share). */
#include <math.h>

#include <fivo/fivo.h>
#include <fivo/resample_hard.h>

typedef struct ot {
    double epsilon, tolerance, cost_scale;
    long max_iterations;
} ot;

/* The plugin's state: the common head first, so fivo_resampler_state_free
 * is the destroy slot (no hard scheme). */
typedef struct ot_state {
    fivo_resampler_state head;
    ot o;
} ot_state;

static const fivo_option OPTIONS[] = {
    {"epsilon", FIVO_OPTION_DOUBLE, "0.5",
     "entropy regularisation, relative to the cost scale (smaller: closer to exact OT)", NULL, ">0", NULL},
    {"max_iterations", FIVO_OPTION_INT, "100", "Sinkhorn iterations at most", NULL, "1", "100000"},
    {"tolerance", FIVO_OPTION_DOUBLE, "1e-3",
     "stop when no potential moved by more than this (cost units)", NULL, "0", NULL},
    {"cost_scale", FIVO_OPTION_DOUBLE, "0",
     "divide squared distances by this; 0: by the filter's mean one", NULL, "0", NULL},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    ot o = {0}; /* defaults and ranges: OPTIONS (also with no config) */
    const fivo_option *rows = OPTIONS;
    const size_t n = sizeof OPTIONS / sizeof OPTIONS[0];
    fivo_status st = fivo_option_double(cfg, "resampler", rows, n, "epsilon", &o.epsilon, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "resampler", rows, n, "tolerance", &o.tolerance, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "resampler", rows, n, "cost_scale", &o.cost_scale, err);
    if (st == FIVO_OK)
        st = fivo_option_int(cfg, "resampler", rows, n, "max_iterations", &o.max_iterations, err);
    if (st != FIVO_OK)
        return st;
    st = fivo_resampler_state_new(sizeof(ot_state), "optimal-transport", NULL, self, err);
    if (st == FIVO_OK)
        ((ot_state *)*self)->o = o;
    return st;
}

/* out_i = lse_k(r_k - Cn_ki) for the n x n cost Cn (negated in neg_c): the
 * column reduction that fivo_logsumexp_groups does on the flattened matrix.
 * Since Cn is symmetric this is also lse_k(r_k - Cn_ik). */
static fivo_tensor *soft_min(fivo_ctx *ctx, const fivo_tensor *neg_c, const fivo_tensor *r, int n)
{
    fivo_tensor *m = fivo_add(ctx, neg_c, r); /* r broadcast down the columns: m_ki = r_k - Cn_ki */
    return fivo_logsumexp_groups(ctx, fivo_reshape(ctx, m, n * n, 1), n);
}

static fivo_status resample_transport(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                      const fivo_tensor *x, const fivo_rng *rng, uint32_t row,
                                      fivo_tensor **blend, fivo_error *err)
{
    (void)rng; /* deterministic: no uniforms */
    (void)row;
    const ot *o = &((const ot_state *)self)->o;
    int n = log_w->rows;
    if (n <= 0 || log_w->cols != 1 || x == NULL || x->rows != n)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "optimal-transport: log weights %d x %d with %d particle rows", n,
                              log_w->cols, x != NULL ? x->rows : -1);
    fivo_tensor *lwc = fivo_clamp_min(ctx, log_w, -80.0f);
    fivo_tensor *log_wbar = fivo_sub(ctx, lwc, fivo_logsumexp_groups(ctx, lwc, n));

    /* C_ij = |x_i|^2 + |x_j|^2 - 2 x_i . x_j, floored at 0 against rounding. */
    fivo_tensor *sq = fivo_sum_cols(ctx, fivo_square(ctx, x));
    fivo_tensor *gram = fivo_matmul(ctx, x, false, x, true);
    fivo_tensor *c = fivo_clamp_min(
        ctx, fivo_add(ctx, fivo_add(ctx, fivo_scale(ctx, gram, -2.0f), sq), fivo_reshape(ctx, sq, 1, n)),
        0.0f);
    fivo_tensor *neg_c;
    if (o->cost_scale > 0.0) {
        neg_c = fivo_scale(ctx, c, (float)(-1.0 / (o->cost_scale * o->epsilon)));
    } else {
        /* -C / (eps * mean C) with the mean on the tape, so the blend's
         * gradient is the derivative of what the forward pass computed. */
        fivo_tensor *mean = fivo_clamp_min(
            ctx, fivo_scale(ctx, fivo_sum_all(ctx, c), (float)(1.0 / ((double)n * n))), 1e-12f);
        fivo_tensor *coef = fivo_scale(ctx, fivo_exp(ctx, fivo_scale(ctx, fivo_log(ctx, mean), -1.0f)),
                                       (float)(-1.0 / o->epsilon));
        fivo_tensor *col = fivo_matmul(ctx, fivo_tensor_fill(ctx, n, 1, 1.0f), false, coef, false);
        neg_c = fivo_mul(ctx, c, col);
    }

    fivo_tensor *a = fivo_tensor_zeros(ctx, n, 1);
    fivo_tensor *b = NULL;
    const float log_n = (float)log((double)n);
    const double tol = o->tolerance / o->epsilon;
    for (long it = 0; it < o->max_iterations; it++) {
        b = fivo_scale(ctx, soft_min(ctx, neg_c, fivo_add_scalar(ctx, a, -log_n), n), -1.0f);
        fivo_tensor *a_next = fivo_scale(ctx, soft_min(ctx, neg_c, fivo_add(ctx, log_wbar, b), n), -1.0f);
        double moved = 0.0;
        for (int i = 0; i < n; i++) {
            double d = fabs((double)a_next->data[i] - (double)a->data[i]);
            moved = d > moved ? d : moved;
        }
        a = a_next;
        if (moved <= tol)
            break;
    }
    /* A_ij = exp(a_i + log wbar_j + b_j - Cn_ij) */
    fivo_tensor *logits = fivo_add(ctx, fivo_add(ctx, neg_c, a),
                                   fivo_reshape(ctx, fivo_add(ctx, log_wbar, b), 1, n));
    *blend = fivo_exp(ctx, logits);
    return fivo_ctx_status(ctx, err);
}

static const fivo_resampler_vtable VTABLE = {
    .create = create,
    .destroy = fivo_resampler_state_free,
    .resample_transport = resample_transport,
};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "optimal-transport",
    .version = "1.0.0",
    .description = "optimal-transport resampling (Corenflos et al. 2021): entropy-regularised "
                   "transport blends, differentiable in weights and particles",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
