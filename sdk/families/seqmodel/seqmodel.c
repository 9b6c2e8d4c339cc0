/* The common part of the recurrent latent-variable models (see fivo/seqmodel.h). */
#include <fivo/dist.h>
#include <fivo/ext_tilt.h>
#include <fivo/options.h>
#include <fivo/rng.h>
#include <fivo/seqmodel.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HIDDEN FIVO_MLP_MAX_LAYERS

/* ---- settings ------------------------------------------------------------ */

static fivo_status parse_sizes(const char *text, int *out, int *n, fivo_error *err)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 65536 || *n >= MAX_HIDDEN - 1)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "[model] fcnet_hidden_sizes: bad value '%s' (expected a comma-"
                                  "separated list of up to %d positive sizes)",
                                  text, MAX_HIDDEN - 1);
        out[(*n)++] = (int)v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return fivo_error_set(err, FIVO_ERR_INVALID,
                                  "[model] fcnet_hidden_sizes: bad value '%s'", text);
    }
    if (*n == 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[model] fcnet_hidden_sizes is empty");
    return FIVO_OK;
}

/* The keys read here, with their declared defaults (the one place they live). */
static const fivo_option ROWS[] = {FIVO_SEQMODEL_OPTIONS};
#define SEQ_ROWS FIVO_OPTION_ROWS(ROWS)

static fivo_status positive_int(const fivo_config *cfg, const char *key, long def, int *out,
                                fivo_error *err)
{
    long v = def; /* for rows without a declared default: computed by the caller */
    fivo_status s = fivo_option_int(cfg, "model", SEQ_ROWS, key, &v, err); /* range: the row's */
    if (s != FIVO_OK)
        return s;
    *out = (int)v;
    return FIVO_OK;
}

static fivo_status read_settings(fivo_seqmodel *sm, const fivo_config *cfg, fivo_error *err)
{
    fivo_status s;
    double d;
    const char *str;
    if ((s = positive_int(cfg, "latent_size", 0, &sm->Z, err)) != FIVO_OK ||
        (s = positive_int(cfg, "rnn_hidden_size", sm->Z, &sm->R, err)) != FIVO_OK ||
        (s = positive_int(cfg, "encoded_data_size", sm->Z, &sm->Ed, err)) != FIVO_OK ||
        (s = positive_int(cfg, "encoded_latent_size", sm->Z, &sm->El, err)) != FIVO_OK)
        return s;
    str = NULL;
    if ((s = fivo_option_string(cfg, "model", SEQ_ROWS, "fcnet_hidden_sizes", &str, err)) != FIVO_OK)
        return s;
    if (str) {
        if ((s = parse_sizes(str, sm->hidden, &sm->num_hidden, err)) != FIVO_OK)
            return s;
    } else {
        sm->num_hidden = 1;
        sm->hidden[0] = sm->Z;
    }
    if ((s = fivo_option_string(cfg, "model", SEQ_ROWS, "proposal_type", &str, err)) != FIVO_OK)
        return s;
    if (strcmp(str, "filtering") == 0)
        sm->proposal_type = FIVO_PROPOSAL_FILTERING;
    else if (strcmp(str, "smoothing") == 0)
        sm->proposal_type = FIVO_PROPOSAL_SMOOTHING;
    else if (strcmp(str, "prior") == 0)
        sm->proposal_type = FIVO_PROPOSAL_PRIOR;
    else
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] proposal_type = '%s': expected filtering, smoothing or prior",
                              str);
    if ((s = fivo_option_double(cfg, "model", SEQ_ROWS, "raw_sigma_bias", &d, err)) != FIVO_OK)
        return s;
    sm->raw_sigma_bias = (float)d;
    if ((s = fivo_option_double(cfg, "model", SEQ_ROWS, "sigma_min", &d, err)) != FIVO_OK)
        return s;
    if (d < 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "[model] sigma_min = %g: must be >= 0", d);
    sm->sigma_min = (float)d;
    if ((s = fivo_option_double(cfg, "model", SEQ_ROWS, "emission_raw_sigma_bias", &d, err)) !=
        FIVO_OK)
        return s;
    sm->emission_raw_sigma_bias = (float)d;
    return FIVO_OK;
}

fivo_status fivo_seqmodel_init(fivo_seqmodel **out, const char *name, const fivo_config *cfg,
                               const fivo_data_spec *spec, fivo_params *params, fivo_error *err)
{
    fivo_seqmodel *sm = calloc(1, sizeof *sm);
    *out = sm;
    if (!sm)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", name);
    sm->size = sizeof *sm;
    snprintf(sm->name, sizeof sm->name, "%s", name);
    if (!spec || spec->dim <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "the data spec has no dimension");
    sm->D = spec->dim;
    sm->binary = !(spec->kind && strcmp(spec->kind, "real") == 0);
    fivo_status s = read_settings(sm, cfg, err);
    if (s == FIVO_OK)
        s = fivo_seqmodel_mlp_init(sm, &sm->data_encoder, params, "data_encoder", sm->D, sm->Ed,
                                   err);
    if (s == FIVO_OK)
        s = fivo_seqmodel_mlp_init(sm, &sm->latent_encoder, params, "latent_encoder", sm->Z,
                                   sm->El, err);
    return s;
}

void fivo_seqmodel_free(fivo_seqmodel *sm)
{
    if (!sm)
        return;
    free(sm->center);
    free(sm);
}

fivo_status fivo_seqmodel_mlp_init(const fivo_seqmodel *sm, fivo_mlp *mlp, fivo_params *params,
                                   const char *part, int in, int out, fivo_error *err)
{
    int sizes[MAX_HIDDEN];
    for (int i = 0; i < sm->num_hidden; i++)
        sizes[i] = sm->hidden[i];
    sizes[sm->num_hidden] = out;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/%s", sm->name, part);
    return fivo_mlp_init(mlp, params, prefix, in, sizes, sm->num_hidden + 1, err);
}

/* ---- emission ------------------------------------------------------------ */

fivo_status fivo_seqmodel_emission_init(fivo_seqmodel *sm, fivo_params *params,
                                        const fivo_data_spec *spec, int h_size, fivo_error *err)
{
    fivo_status s = fivo_seqmodel_mlp_init(sm, &sm->emission, params, "emission", sm->El + h_size,
                                           sm->binary ? sm->D : 2 * sm->D, err);
    if (s != FIVO_OK || !sm->binary || !spec->mean)
        return s;
    /* Bias at the logit of the clipped train mean (under Adam this trains
     * like the reference's constant offset and is saved with the
     * checkpoint); sampled notes are centred by the same mean before being
     * fed back, as the pianoroll reader centres its inputs. */
    fivo_tensor *b = sm->emission.layers[sm->emission.num_layers - 1].b;
    sm->center = malloc(sizeof(float) * (size_t)sm->D);
    if (!sm->center)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
    for (int j = 0; j < sm->D; j++) {
        double p = spec->mean[j];
        if (!(p >= 1e-4))
            p = 1e-4;
        if (p > 1 - 1e-4)
            p = 1 - 1e-4;
        b->data[j] = (float)-log(1.0 / p - 1.0);
        sm->center[j] = (float)spec->mean[j];
    }
    return FIVO_OK;
}

void fivo_seqmodel_normal_head(fivo_ctx *ctx, const fivo_tensor *out, int n, float raw_sigma_bias,
                               float sigma_min, fivo_tensor **mu, fivo_tensor **sigma)
{
    *mu = fivo_slice_cols(ctx, out, 0, n);
    *sigma = fivo_normal_scale(ctx, fivo_slice_cols(ctx, out, n, n), raw_sigma_bias, sigma_min);
}

fivo_tensor *fivo_seqmodel_emission_log_prob(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                             const fivo_tensor *em, const fivo_tensor *x)
{
    if (sm->binary)
        return fivo_bernoulli_log_prob(ctx, em, x);
    fivo_tensor *mu, *sigma;
    fivo_seqmodel_normal_head(ctx, em, sm->D, sm->emission_raw_sigma_bias, 0.0f, &mu, &sigma);
    return fivo_normal_log_prob(ctx, x, mu, sigma);
}

fivo_tensor *fivo_seqmodel_emission_forward(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                            const fivo_tensor *lat, const fivo_tensor *h,
                                            const fivo_tensor *h_pre)
{
    if (h_pre)
        return fivo_mlp_forward_pre(ctx, &sm->emission, lat, 0, h_pre);
    const fivo_tensor *parts[2] = {lat, h};
    return fivo_mlp_forward(ctx, &sm->emission, fivo_concat_cols(ctx, 2, parts));
}

fivo_tensor *fivo_seqmodel_emission_sample(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                           const fivo_tensor *em, int t, fivo_tensor **next)
{
    fivo_tensor *x;
    if (sm->binary) {
        x = fivo_bernoulli_sample(ctx, em, FIVO_RNG_EMISSION, (uint32_t)t);
    } else {
        fivo_tensor *mu, *sigma;
        fivo_seqmodel_normal_head(ctx, em, sm->D, sm->emission_raw_sigma_bias, 0.0f, &mu, &sigma);
        x = fivo_stop_gradient(ctx, fivo_normal_sample(ctx, mu, sigma, FIVO_RNG_EMISSION,
                                                       (uint32_t)t));
    }
    if (!next)
        return x;
    *next = fivo_tensor_new(ctx, x->rows, x->cols);
    if (fivo_ctx_status(ctx, NULL) != FIVO_OK)
        return x;
    for (int r = 0; r < x->rows; r++) {
        const float *src = fivo_tensor_row(x, r);
        float *dst = fivo_tensor_row(*next, r);
        for (int j = 0; j < x->cols; j++)
            dst[j] = src[j] - (sm->center ? sm->center[j] : 0.0f);
    }
    return x;
}

/* ---- per batch ----------------------------------------------------------- */

fivo_status fivo_seqmodel_set_batch(fivo_seqmodel *sm, const fivo_batch *batch, int num_particles,
                                    fivo_error *err)
{
    if (batch->dim != sm->D)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "%s: batch has dimension %d, the model was built for %d", sm->name,
                              batch->dim, sm->D);
    if (num_particles <= 0 || batch->batch_size <= 0 || batch->max_len <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: empty batch or no particles", sm->name);
    sm->batch = batch;
    sm->N = num_particles;
    sm->B = batch->batch_size;
    sm->T = batch->max_len;
    sm->rows = sm->N * sm->B;
    return FIVO_OK;
}

/* Row p * B + b <- row b * b_stride + offset, for every particle p. */
static int32_t *particle_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, int b_stride, int offset)
{
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)sm->rows);
    if (!idx)
        return NULL;
    for (int p = 0; p < sm->N; p++)
        for (int b = 0; b < sm->B; b++)
            idx[p * sm->B + b] = b * b_stride + offset;
    return idx;
}

int32_t *fivo_seqmodel_step_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, int t)
{
    return particle_rows(ctx, sm, 1, t * sm->B);
}

int32_t *fivo_seqmodel_seq_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, int t)
{
    return particle_rows(ctx, sm, sm->T, t);
}

fivo_tensor *fivo_seqmodel_tile_step(fivo_ctx *ctx, const fivo_seqmodel *sm, const float *x,
                                     int t, const float *center)
{
    fivo_tensor *out = fivo_tensor_new(ctx, sm->rows, sm->D);
    const fivo_batch *bt = sm->batch;
    if (fivo_ctx_status(ctx, NULL) != FIVO_OK)
        return out;
    for (int p = 0; p < sm->N; p++)
        for (int b = 0; b < sm->B; b++) {
            float *dst = fivo_tensor_row(out, p * sm->B + b);
            const float *src = fivo_batch_at(x, bt, t, b);
            if (center && t < bt->lengths[b])
                for (int j = 0; j < sm->D; j++)
                    dst[j] = src[j] - center[j];
            else
                memcpy(dst, src, sizeof(float) * (size_t)sm->D);
        }
    return out;
}

fivo_tensor *fivo_seqmodel_rnn(fivo_ctx *ctx, const fivo_lstm *cell, const fivo_tensor *pre,
                               int pre_cols, const fivo_tensor *x, const fivo_batch *batch,
                               bool reverse, fivo_tensor **h_steps, fivo_tensor **c_steps)
{
    int T = batch->max_len, B = batch->batch_size, H = cell->hidden_size;
    fivo_tensor **outs = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B);
    int32_t *back = reverse ? fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B * (size_t)T) : NULL;
    if (!outs || !idx || (reverse && !back))
        return NULL;
    fivo_tensor *h = fivo_tensor_zeros(ctx, B, H), *c = fivo_tensor_zeros(ctx, B, H);
    for (int s = 0; s < T; s++) {
        for (int b = 0; b < B; b++) {
            int L = batch->lengths[b];
            int src = reverse && s < L ? L - 1 - s : s;
            idx[b] = src * B + b;
        }
        if (pre)
            fivo_lstm_forward_pre(ctx, cell, fivo_gather_rows(ctx, pre, idx, B), pre_cols,
                                  x ? fivo_gather_rows(ctx, x, idx, B) : NULL, h, c, &h, &c);
        else
            fivo_lstm_forward(ctx, cell, fivo_gather_rows(ctx, x, idx, B), h, c, &h, &c);
        outs[s] = h;
        if (h_steps)
            h_steps[s] = h;
        if (c_steps)
            c_steps[s] = c;
    }
    /* B x (T * H), viewed as (B * T) x H: row b * T + s is step s of b. */
    fivo_tensor *all = fivo_reshape(ctx, fivo_concat_cols(ctx, T, (const fivo_tensor *const *)outs),
                                    B * T, H);
    if (!reverse)
        return all;
    for (int b = 0; b < B; b++) {
        int L = batch->lengths[b];
        for (int t = 0; t < T; t++)
            back[b * T + t] = b * T + (t < L ? L - 1 - t : t);
    }
    return fivo_gather_rows(ctx, all, back, B * T);
}

void fivo_seqmodel_tilt_describe(const fivo_seqmodel *sm, fivo_tilt_spec *out)
{
    out->h_size = sm->R;
    out->lat_size = sm->El;
    out->num_hidden = sm->num_hidden;
    for (int i = 0; i < sm->num_hidden; i++)
        out->hidden[i] = sm->hidden[i];
    out->binary = sm->binary;
    out->normal_raw_sigma_bias = sm->emission_raw_sigma_bias;
}
