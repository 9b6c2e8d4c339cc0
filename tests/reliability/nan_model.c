/* Test model plugin "nantest": a one-dimensional random walk z_t = z_{t-1}
 * + b with log weight -z_t^2 / 2, which goes non-finite on purpose at
 * training step `nan_step` (counted as batches seen by this process), in
 * one of three places:
 *   log_weights  the incremental log weights are NaN (the bound is NaN)
 *   parameters   the parameter nantest/b is overwritten with NaN
 *   gradients    forward values stay finite, but the gradient of nantest/g
 *                is infinite (d log(x) / dx at x ~ 1e-38)
 * so the tests can check that training stops naming the step and cause. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/abi.h>
#include <fivo/config.h>
#include <fivo/params.h>
#include <fivo/plugin_model.h>

typedef struct nan_model {
    fivo_tensor *b, *g;
    long nan_step;
    int where; /* 0 log_weights, 1 parameters, 2 gradients */
    long batches;
    bool trigger;
} nan_model;

static fivo_status nm_create(const fivo_config *cfg, const fivo_data_spec *spec,
                             fivo_params *params, void **self, fivo_error *err)
{
    (void)spec;
    const char *where = "log_weights";
    long step = -1;
    if (fivo_config_int_or(cfg, "model", "nan_step", -1, &step, err) != FIVO_OK ||
        fivo_config_string_or(cfg, "model", "nan_in", "log_weights", &where, err) != FIVO_OK)
        return err != NULL ? err->code : FIVO_ERR_INVALID;
    nan_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "nantest: out of memory");
    m->nan_step = step;
    m->where = strcmp(where, "parameters") == 0 ? 1 : strcmp(where, "gradients") == 0 ? 2 : 0;
    m->b = fivo_params_add(params, "nantest/b", 1, 1, FIVO_INIT_ZEROS, err);
    m->g = m->b ? fivo_params_add(params, "nantest/g", 1, 1, FIVO_INIT_ZEROS, err) : NULL;
    if (m->g == NULL) {
        free(m);
        return err != NULL ? err->code : FIVO_ERR_INVALID;
    }
    *self = m;
    return FIVO_OK;
}

static void nm_destroy(void *self)
{
    free(self);
}

static fivo_status nm_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                       int num_particles, fivo_error *err)
{
    (void)ctx, (void)batch, (void)num_particles, (void)err;
    nan_model *m = self;
    m->trigger = m->batches++ == m->nan_step;
    if (m->trigger && m->where == 1)
        m->b->data[0] = NAN;
    return FIVO_OK;
}

static fivo_status nm_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                 fivo_error *err)
{
    (void)self, (void)err;
    out->count = 1;
    out->t[0] = fivo_tensor_zeros(ctx, rows, 1);
    return FIVO_OK;
}

static fivo_status nm_propose(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                              fivo_state *out, fivo_tensor **log_weight, fivo_error *err)
{
    (void)t, (void)err;
    nan_model *m = self;
    fivo_tensor *z = fivo_add(ctx, state->t[0], m->b);
    fivo_tensor *lw = fivo_scale(ctx, fivo_square(ctx, z), -0.5f);
    if (m->trigger && m->where == 0)
        lw = fivo_add_scalar(ctx, lw, NAN);
    if (m->trigger && m->where == 2) {
        /* log(g + 1.2e-38): finite forward (about -87), but its derivative
         * 1 / 1.2e-38 times the weight below overflows float. */
        fivo_tensor *x = fivo_add(ctx, fivo_tensor_fill(ctx, z->rows, 1, 1.2e-38f), m->g);
        lw = fivo_add(ctx, lw, fivo_scale(ctx, fivo_log(ctx, x), 1e4f));
    }
    out->count = 1;
    out->t[0] = z;
    *log_weight = lw;
    return FIVO_OK;
}

static const fivo_model_vtable vtable = {
    .create = nm_create,
    .destroy = nm_destroy,
    .set_observations = nm_set_observations,
    .zero_state = nm_zero_state,
    .propose_and_weight = nm_propose,
    .sample_step = NULL,
    .log_likelihood = NULL,
};

static const fivo_option options[] = {
    {"nan_step", FIVO_OPTION_INT, "-1", "training step that goes non-finite (-1: none)", NULL, NULL, NULL},
    {"nan_in", FIVO_OPTION_STRING, "log_weights", "where the non-finite value appears",
     "log_weights|parameters|gradients", NULL, NULL},
};

static const fivo_plugin_descriptor descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "nantest",
    .version = "1.0.0",
    .description = "test model that goes non-finite at a chosen step",
    .vtable = &vtable,
    .vtable_size = sizeof vtable,
    .options = options,
    .num_options = sizeof options / sizeof options[0],
    .option_size = sizeof options[0],
};

FIVO_PLUGIN_DEFINE_QUERY(descriptor)
