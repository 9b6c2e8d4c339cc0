/* Relaxed resampling (the reference's "relaxed"): each new particle i is a
 * blend of the old ones with weights A[i] ~ Gumbel-softmax(log w, temperature)
 * (RelaxedOneHotCategorical), so gradients flow through the resampling step
 * into the log weights. A[i][j] = softmax_j((log w_j + g_ij) / temperature),
 * g_ij = -log(-log u_ij). */
#include <math.h>
#include <stdlib.h>

#include <fivo/fivo.h>

typedef struct relaxed {
    double temperature;
} relaxed;

static const fivo_option OPTIONS[] = {
    {"temperature", FIVO_OPTION_DOUBLE, "0.5",
     "temperature of the Gumbel-softmax blend (the reference's relaxed_resampling_temperature)", NULL, ">0", NULL},
};

static fivo_status create(const fivo_config *cfg, void **self, fivo_error *err)
{
    double temp = 0; /* default: OPTIONS (also with no config) */
    fivo_status st =
        fivo_option_double(cfg, "resampler", FIVO_OPTION_ROWS(OPTIONS), "temperature", &temp, err);
    if (st != FIVO_OK)
        return st;
    relaxed *r = calloc(1, sizeof *r);
    if (r == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "relaxed: out of memory");
    r->temperature = temp;
    *self = r;
    return FIVO_OK;
}

static void destroy(void *self) { free(self); }

static fivo_status resample_relaxed(void *self, fivo_ctx *ctx, const fivo_tensor *log_w,
                                    const fivo_rng *rng, uint32_t row, fivo_tensor **blend,
                                    fivo_error *err)
{
    relaxed *r = self;
    int n = log_w->rows;
    if (n <= 0 || log_w->cols != 1)
        return fivo_error_set(err, FIVO_ERR_INVALID, "relaxed: log weights are %d x %d, want n x 1",
                              log_w->rows, log_w->cols);
    int finite = 0;
    for (int j = 0; j < n; j++) {
        float v = log_w->data[j];
        if (isnan(v) || (isinf(v) && v > 0))
            return fivo_error_set(err, FIVO_ERR_NUMERIC, "%s log weight at particle %d of %d",
                                  isnan(v) ? "NaN" : "+inf", j, n);
        finite += isfinite(v) ? 1 : 0;
    }
    if (finite == 0)
        return fivo_error_set(err, FIVO_ERR_NUMERIC, "all %d log weights are -inf", n);

    /* Gumbel noise, row i = new particle i. */
    fivo_tensor *g = fivo_tensor_new(ctx, n, n);
    double *u = fivo_ctx_alloc(ctx, sizeof(double) * (size_t)n * (size_t)n);
    if (u == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "relaxed: arena exhausted");
    fivo_rng_uniform_double(rng, row, u, n * n);
    for (int k = 0; k < n * n; k++)
        g->data[k] = (float)-log(-log(u[k]));

    /* x[i][j] = (log w_j + g_ij) / temperature; softmax over j, shifted by
     * the row max (a constant: softmax is shift invariant). */
    fivo_tensor *lw_row = fivo_reshape(ctx, log_w, 1, n);
    fivo_tensor *x = fivo_scale(ctx, fivo_add(ctx, g, lw_row), (float)(1.0 / r->temperature));
    fivo_tensor *shift = fivo_tensor_new(ctx, n, 1);
    for (int i = 0; i < n; i++) {
        float m = -INFINITY;
        const float *xr = fivo_tensor_row(x, i);
        for (int j = 0; j < n; j++)
            if (xr[j] > m)
                m = xr[j];
        shift->data[i] = m;
    }
    fivo_tensor *xs = fivo_sub(ctx, x, shift);
    fivo_tensor *log_norm = fivo_log(ctx, fivo_sum_cols(ctx, fivo_exp(ctx, xs)));
    *blend = fivo_exp(ctx, fivo_sub(ctx, xs, log_norm));
    return fivo_ctx_status(ctx, err);
}

static const fivo_resampler_vtable VTABLE = {
    .create = create, .destroy = destroy, .resample = NULL, .resample_relaxed = resample_relaxed};

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_RESAMPLER,
    .name = "relaxed",
    .version = "1.0.0",
    .description = "relaxed (Gumbel-softmax) resampling: differentiable blends of particles",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
