/* The VRNN model plugin (Chung et al. 2015), with the semantics of the
 * TensorFlow FIVO release (research/fivo/fivo/models/vrnn.py):
 *
 *   h_t = LSTM([data_encoder(x_{t-1}), latent_encoder(z_{t-1})], h_{t-1})
 *   p(z_t | h_t)          Normal from the "prior" MLP
 *   q(z_t | h_t, ...)     res_q Normal: proposal MLP mean + prior mean;
 *                         filtering: [h_t, data_encoder(x_t)]
 *                         smoothing: [h_t, reverse LSTM over encoded x_{t..T}]
 *                         prior:     q = p
 *   p(x_t | z_t, h_t)     Bernoulli (binary data) or Normal (real data) from
 *                         the "emission" MLP on [latent_encoder(z_t), h_t]
 *
 * sigma = max(softplus(raw + raw_sigma_bias), sigma_min). The Bernoulli
 * emission's output bias starts at logit(clip(train mean, 1e-4, 1 - 1e-4)),
 * which under Adam trains exactly like the reference's constant offset and
 * is saved with the checkpoint.
 *
 * State (one row per particle, row = p * B + b):
 *   0: h  1: c  2: encoded z_{t-1}  3: next input (x_t centred like the
 *   dataset's inputs, used only by sample_step; carries no gradient). */
#include <fivo/fivo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROPOSAL_FILTERING = 0, PROPOSAL_SMOOTHING = 1, PROPOSAL_PRIOR = 2 };
enum { ST_H = 0, ST_C = 1, ST_LAT = 2, ST_NEXT_IN = 3, ST_COUNT = 4 };

#define MAX_HIDDEN FIVO_MLP_MAX_LAYERS

typedef struct vrnn {
    int D, Z, R, Ed, El;
    int num_hidden, hidden[MAX_HIDDEN];
    int proposal_type;
    int binary;
    float raw_sigma_bias, sigma_min, emission_raw_sigma_bias;
    float *center; /* [D] subtracted from sampled x before feeding it back, or NULL */

    fivo_mlp data_encoder, latent_encoder, prior, proposal, emission;
    fivo_lstm lstm, rev_lstm;

    /* Per batch: arena tensors, valid until the ctx is reset. */
    const fivo_batch *batch;
    int N, B, T, rows;
    fivo_tensor *enc_in;  /* (T * B) x Ed, row t * B + b: encoded inputs */
    fivo_tensor *enc_tgt; /* (T * B) x Ed: encoded targets */
    fivo_tensor *rev;     /* (B * T) x R, row b * T + t: reverse LSTM output (smoothing) */
    /* The input-side products that every particle shares, once per batch
     * over T * B rows instead of per particle and step: */
    fivo_tensor *in_pre;  /* enc_in @ lstm kernel[:Ed]: (T * B) x 4R */
    fivo_tensor *q_pre;   /* enc_tgt (or rev) @ proposal fc1 w[R:]: rows as enc_tgt (rev) */
} vrnn;

static const fivo_option vrnn_options[] = {
    {"latent_size", FIVO_OPTION_INT, "64", "size of the latent state z_t"},
    {"proposal_type", FIVO_OPTION_STRING, "filtering", "filtering | smoothing | prior"},
    {"rnn_hidden_size", FIVO_OPTION_INT, NULL, "LSTM hidden size (default latent_size)"},
    {"fcnet_hidden_sizes", FIVO_OPTION_STRING, NULL,
     "comma-separated hidden layer sizes of every MLP (default latent_size)"},
    {"encoded_data_size", FIVO_OPTION_INT, NULL, "data encoder output size (default latent_size)"},
    {"encoded_latent_size", FIVO_OPTION_INT, NULL,
     "latent encoder output size (default latent_size)"},
    {"raw_sigma_bias", FIVO_OPTION_DOUBLE, "0.5", "added to the raw scale of prior and proposal"},
    {"sigma_min", FIVO_OPTION_DOUBLE, "0.0", "floor of the prior and proposal scales"},
    {"emission_raw_sigma_bias", FIVO_OPTION_DOUBLE, "0.25",
     "raw scale bias of the Normal emission (real data)"},
};

/* ---- configuration ------------------------------------------------------ */

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

static fivo_status positive_int(const fivo_config *cfg, const char *key, long def, int *out,
                                fivo_error *err)
{
    long v;
    fivo_status s = fivo_config_int_or(cfg, "model", key, def, &v, err);
    if (s != FIVO_OK)
        return s;
    if (v <= 0 || v > 65536)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[model] %s = %ld: expected a positive size", key, v);
    *out = (int)v;
    return FIVO_OK;
}

/* MLP with the configured hidden layers and output width `out`. */
static fivo_status make_mlp(vrnn *m, fivo_mlp *mlp, fivo_params *p, const char *name, int in,
                            int out, fivo_error *err)
{
    int sizes[MAX_HIDDEN];
    for (int i = 0; i < m->num_hidden; i++)
        sizes[i] = m->hidden[i];
    sizes[m->num_hidden] = out;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "vrnn/%s", name);
    return fivo_mlp_init(mlp, p, prefix, in, sizes, m->num_hidden + 1, err);
}

static void vrnn_destroy(void *self)
{
    vrnn *m = self;
    if (!m)
        return;
    free(m->center);
    free(m);
}

static fivo_status vrnn_create(const fivo_config *cfg, const fivo_data_spec *spec,
                               fivo_params *params, void **self, fivo_error *err)
{
    *self = NULL;
    if (!spec || spec->dim <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: the data spec has no dimension");
    vrnn *m = calloc(1, sizeof *m);
    if (!m)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: out of memory");
    fivo_status s;
    double d;
    const char *str;
    m->D = spec->dim;
    if ((s = positive_int(cfg, "latent_size", 64, &m->Z, err)) != FIVO_OK)
        goto fail;
    if ((s = positive_int(cfg, "rnn_hidden_size", m->Z, &m->R, err)) != FIVO_OK)
        goto fail;
    if ((s = positive_int(cfg, "encoded_data_size", m->Z, &m->Ed, err)) != FIVO_OK)
        goto fail;
    if ((s = positive_int(cfg, "encoded_latent_size", m->Z, &m->El, err)) != FIVO_OK)
        goto fail;
    if ((s = fivo_config_string_or(cfg, "model", "fcnet_hidden_sizes", NULL, &str, err)) != FIVO_OK)
        goto fail;
    if (str) {
        if ((s = parse_sizes(str, m->hidden, &m->num_hidden, err)) != FIVO_OK)
            goto fail;
    } else {
        m->num_hidden = 1;
        m->hidden[0] = m->Z;
    }
    if ((s = fivo_config_string_or(cfg, "model", "proposal_type", "filtering", &str, err)) != FIVO_OK)
        goto fail;
    if (strcmp(str, "filtering") == 0)
        m->proposal_type = PROPOSAL_FILTERING;
    else if (strcmp(str, "smoothing") == 0)
        m->proposal_type = PROPOSAL_SMOOTHING;
    else if (strcmp(str, "prior") == 0)
        m->proposal_type = PROPOSAL_PRIOR;
    else {
        s = fivo_error_set(err, FIVO_ERR_INVALID,
                           "[model] proposal_type = '%s': expected filtering, smoothing or prior",
                           str);
        goto fail;
    }
    if ((s = fivo_config_double_or(cfg, "model", "raw_sigma_bias", 0.5, &d, err)) != FIVO_OK)
        goto fail;
    m->raw_sigma_bias = (float)d;
    if ((s = fivo_config_double_or(cfg, "model", "sigma_min", 0.0, &d, err)) != FIVO_OK)
        goto fail;
    if (d < 0) {
        s = fivo_error_set(err, FIVO_ERR_INVALID, "[model] sigma_min = %g: must be >= 0", d);
        goto fail;
    }
    m->sigma_min = (float)d;
    if ((s = fivo_config_double_or(cfg, "model", "emission_raw_sigma_bias", 0.25, &d, err)) !=
        FIVO_OK)
        goto fail;
    m->emission_raw_sigma_bias = (float)d;
    m->binary = !(spec->kind && strcmp(spec->kind, "real") == 0);

    if ((s = make_mlp(m, &m->data_encoder, params, "data_encoder", m->D, m->Ed, err)) != FIVO_OK)
        goto fail;
    if ((s = make_mlp(m, &m->latent_encoder, params, "latent_encoder", m->Z, m->El, err)) !=
        FIVO_OK)
        goto fail;
    if ((s = fivo_lstm_init(&m->lstm, params, "vrnn/lstm", m->Ed + m->El, m->R, err)) != FIVO_OK)
        goto fail;
    if ((s = make_mlp(m, &m->prior, params, "prior", m->R, 2 * m->Z, err)) != FIVO_OK)
        goto fail;
    if (m->proposal_type == PROPOSAL_FILTERING) {
        if ((s = make_mlp(m, &m->proposal, params, "proposal", m->R + m->Ed, 2 * m->Z, err)) !=
            FIVO_OK)
            goto fail;
    } else if (m->proposal_type == PROPOSAL_SMOOTHING) {
        if ((s = make_mlp(m, &m->proposal, params, "proposal", 2 * m->R, 2 * m->Z, err)) != FIVO_OK)
            goto fail;
        if ((s = fivo_lstm_init(&m->rev_lstm, params, "vrnn/rev_lstm", m->Ed, m->R, err)) !=
            FIVO_OK)
            goto fail;
    }
    if ((s = make_mlp(m, &m->emission, params, "emission", m->El + m->R,
                      m->binary ? m->D : 2 * m->D, err)) != FIVO_OK)
        goto fail;

    if (m->binary && spec->mean) {
        /* Emission bias at the logit of the clipped train mean; sampled
         * notes are centred by the same mean before being fed back, as the
         * pianoroll reader centres its inputs. */
        fivo_tensor *b = m->emission.layers[m->emission.num_layers - 1].b;
        m->center = malloc(sizeof(float) * (size_t)m->D);
        if (!m->center) {
            s = fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: out of memory");
            goto fail;
        }
        for (int j = 0; j < m->D; j++) {
            double p = spec->mean[j];
            if (!(p >= 1e-4))
                p = 1e-4;
            if (p > 1 - 1e-4)
                p = 1 - 1e-4;
            b->data[j] = (float)-log(1.0 / p - 1.0);
            m->center[j] = (float)spec->mean[j];
        }
    }
    *self = m;
    return FIVO_OK;
fail:
    vrnn_destroy(m);
    return fivo_error_prefix(err, "vrnn: ");
}

/* ---- per batch ----------------------------------------------------------- */

/* Rows p * B + b <- row t * B + b of a time-major (T * B) tensor. */
static int32_t *time_index(fivo_ctx *ctx, const vrnn *m, int t)
{
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)m->rows);
    if (!idx)
        return NULL;
    for (int p = 0; p < m->N; p++)
        for (int b = 0; b < m->B; b++)
            idx[p * m->B + b] = t * m->B + b;
    return idx;
}

/* The reverse LSTM over the encoded targets, each sequence reversed within
 * its own length (tf.reverse_sequence), run over all T steps, then reversed
 * back. Returns (B * T) x R with row b * T + t. */
static fivo_tensor *reverse_rnn(fivo_ctx *ctx, const fivo_lstm *cell, const fivo_tensor *seq,
                                const fivo_batch *batch, int R)
{
    int T = batch->max_len, B = batch->batch_size;
    fivo_tensor **outs = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B);
    int32_t *back = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B * (size_t)T);
    if (!outs || !idx || !back)
        return NULL;
    fivo_tensor *h = fivo_tensor_zeros(ctx, B, R), *c = fivo_tensor_zeros(ctx, B, R);
    for (int s = 0; s < T; s++) {
        for (int b = 0; b < B; b++) {
            int L = batch->lengths[b];
            int src = s < L ? L - 1 - s : s;
            idx[b] = src * B + b;
        }
        fivo_tensor *x = fivo_gather_rows(ctx, seq, idx, B);
        fivo_lstm_forward(ctx, cell, x, h, c, &h, &c);
        outs[s] = h;
    }
    /* B x (T * R), viewed as (B * T) x R: row b * T + s is step s of b. */
    fivo_tensor *all = fivo_reshape(ctx, fivo_concat_cols(ctx, T, (const fivo_tensor *const *)outs),
                                    B * T, R);
    for (int b = 0; b < B; b++) {
        int L = batch->lengths[b];
        for (int t = 0; t < T; t++)
            back[b * T + t] = b * T + (t < L ? L - 1 - t : t);
    }
    return fivo_gather_rows(ctx, all, back, B * T);
}

static fivo_status vrnn_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                         int num_particles, fivo_error *err)
{
    vrnn *m = self;
    if (batch->dim != m->D)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: batch has dimension %d, the model was built for %d",
                              batch->dim, m->D);
    if (num_particles <= 0 || batch->batch_size <= 0 || batch->max_len <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: empty batch or no particles");
    m->batch = batch;
    m->N = num_particles;
    m->B = batch->batch_size;
    m->T = batch->max_len;
    m->rows = m->N * m->B;
    int TB = m->T * m->B;
    /* Inputs and targets are the same for every particle: encode the B
     * sequences once, for all steps, in one matmul each. */
    fivo_tensor *in = fivo_tensor_from(ctx, TB, m->D, batch->inputs);
    m->enc_in = fivo_mlp_forward(ctx, &m->data_encoder, in);
    m->enc_tgt = NULL;
    m->rev = NULL;
    if (m->proposal_type != PROPOSAL_PRIOR) {
        fivo_tensor *tgt = fivo_tensor_from(ctx, TB, m->D, batch->targets);
        m->enc_tgt = fivo_mlp_forward(ctx, &m->data_encoder, tgt);
        if (m->proposal_type == PROPOSAL_SMOOTHING) {
            m->rev = reverse_rnn(ctx, &m->rev_lstm, m->enc_tgt, batch, m->R);
            if (!m->rev)
                return fivo_ctx_status(ctx, err) != FIVO_OK
                           ? fivo_error_prefix(err, "vrnn: ")
                           : fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: arena exhausted");
        }
    }
    m->in_pre = fivo_matmul(ctx, m->enc_in, false, fivo_param_rows(ctx, m->lstm.kernel, 0, m->Ed),
                            false);
    m->q_pre = NULL;
    if (m->proposal_type != PROPOSAL_PRIOR) {
        const fivo_tensor *w1 = m->proposal.layers[0].w;
        m->q_pre = fivo_matmul(ctx, m->proposal_type == PROPOSAL_FILTERING ? m->enc_tgt : m->rev,
                               false, fivo_param_rows(ctx, w1, m->R, w1->rows - m->R), false);
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: set_observations: ");
    return FIVO_OK;
}

static fivo_status vrnn_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                   fivo_error *err)
{
    vrnn *m = self;
    out->count = ST_COUNT;
    out->t[ST_H] = fivo_tensor_zeros(ctx, rows, m->R);
    out->t[ST_C] = fivo_tensor_zeros(ctx, rows, m->R);
    out->t[ST_LAT] = fivo_tensor_zeros(ctx, rows, m->El);
    out->t[ST_NEXT_IN] = fivo_tensor_zeros(ctx, rows, m->D);
    return fivo_ctx_status(ctx, err);
}

/* sigma = max(softplus(raw + bias), min) from columns [Z, 2Z) of out. */
static void normal_head(fivo_ctx *ctx, const fivo_tensor *out, int Z, float raw_sigma_bias,
                        float sigma_min, fivo_tensor **mu, fivo_tensor **sigma)
{
    *mu = fivo_slice_cols(ctx, out, 0, Z);
    *sigma = fivo_normal_scale(ctx, fivo_slice_cols(ctx, out, Z, Z), raw_sigma_bias, sigma_min);
}

/* Emission log-likelihood of x (rows x D) given the emission MLP output. */
static fivo_tensor *emission_log_prob(fivo_ctx *ctx, const vrnn *m, const fivo_tensor *em,
                                      const fivo_tensor *x)
{
    if (m->binary)
        return fivo_bernoulli_log_prob(ctx, em, x);
    fivo_tensor *mu, *sigma;
    normal_head(ctx, em, m->D, m->emission_raw_sigma_bias, 0.0f, &mu, &sigma);
    return fivo_normal_log_prob(ctx, x, mu, sigma);
}

/* rows x D copy of step t of a [T, B, D] array, tiled over particles; when
 * center is given, subtracts it (the dataset's centring of inputs) on rows
 * whose sequence is still running. */
static fivo_tensor *tile_step(fivo_ctx *ctx, const vrnn *m, const float *x, int t,
                              const float *center)
{
    fivo_tensor *out = fivo_tensor_new(ctx, m->rows, m->D);
    const fivo_batch *bt = m->batch;
    for (int p = 0; p < m->N; p++)
        for (int b = 0; b < m->B; b++) {
            float *dst = fivo_tensor_row(out, p * m->B + b);
            const float *src = fivo_batch_at(x, bt, t, b);
            if (center && t < bt->lengths[b])
                for (int j = 0; j < m->D; j++)
                    dst[j] = src[j] - center[j];
            else
                memcpy(dst, src, sizeof(float) * (size_t)m->D);
        }
    return out;
}

static fivo_status vrnn_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state,
                                           int t, fivo_state *out, fivo_tensor **log_weight,
                                           fivo_error *err)
{
    vrnn *m = self;
    if (!m->batch || t < 0 || t >= m->T)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: step %d outside the batch set by set_observations", t);
    if (state->count != ST_COUNT || state->t[ST_H]->rows != m->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: step %d: state has %d tensors of %d rows, expected %d of %d",
                              t, state->count, state->t[0]->rows, ST_COUNT, m->rows);
    int32_t *tidx = time_index(ctx, m, t);
    if (!tidx)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);

    /* LSTM over [enc_in_t, lat]: the enc_in part comes precomputed. */
    fivo_tensor *h, *c;
    fivo_lstm_forward_pre(ctx, &m->lstm, fivo_gather_rows(ctx, m->in_pre, tidx, m->rows), m->Ed,
                          state->t[ST_LAT], state->t[ST_H], state->t[ST_C], &h, &c);

    /* Prior and proposal heads feed one fused node: the scales, the res_q
     * mean, the draw z and log p(z) - log q(z). */
    fivo_tensor *p_out = fivo_mlp_forward(ctx, &m->prior, h), *q_out = NULL;
    if (m->proposal_type != PROPOSAL_PRIOR) {
        /* proposal fc1 over [h, enc_tgt_t] (or [h, rev_t]): the second
         * part comes precomputed */
        int32_t *qidx = tidx;
        if (m->proposal_type == PROPOSAL_SMOOTHING) {
            qidx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)m->rows);
            if (!qidx)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);
            for (int p = 0; p < m->N; p++)
                for (int b = 0; b < m->B; b++)
                    qidx[p * m->B + b] = b * m->T + t;
        }
        const fivo_mlp *q = &m->proposal;
        q_out = fivo_linear_pre(ctx, h, fivo_param_rows(ctx, q->layers[0].w, 0, m->R),
                                q->layers[0].b, fivo_gather_rows(ctx, m->q_pre, qidx, m->rows),
                                q->num_layers > 1);
        for (int i = 1; i < q->num_layers; i++)
            q_out = fivo_linear_pre(ctx, q_out, q->layers[i].w, q->layers[i].b, NULL,
                                    i + 1 < q->num_layers);
    }
    /* With q = p the log ratio is exactly 0 and is left out. */
    fivo_tensor *ratio = NULL;
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, p_out, q_out, m->raw_sigma_bias, m->sigma_min,
                                              FIVO_RNG_PROPOSAL, (uint32_t)t,
                                              q_out != NULL ? &ratio : NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &m->latent_encoder, z);
    const fivo_tensor *em_parts[2] = {lat, h};
    fivo_tensor *em = fivo_mlp_forward(ctx, &m->emission, fivo_concat_cols(ctx, 2, em_parts));
    fivo_tensor *x = tile_step(ctx, m, m->batch->targets, t, NULL);
    fivo_tensor *w = emission_log_prob(ctx, m, em, x);
    if (ratio != NULL)
        w = fivo_add(ctx, w, ratio);
    out->count = ST_COUNT;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_LAT] = lat;
    out->t[ST_NEXT_IN] = tile_step(ctx, m, m->batch->targets, t, m->center);
    *log_weight = w;
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: step %d: ", t);
    return FIVO_OK;
}

static fivo_status vrnn_sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                    fivo_state *out, fivo_tensor **x_out, fivo_error *err)
{
    vrnn *m = self;
    if (state->count != ST_COUNT)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: sample step %d: bad state", t);
    int rows = state->t[ST_H]->rows;
    const fivo_tensor *rnn_in_parts[2] = {
        fivo_mlp_forward(ctx, &m->data_encoder, state->t[ST_NEXT_IN]), state->t[ST_LAT]};
    fivo_tensor *h, *c;
    fivo_lstm_forward(ctx, &m->lstm, fivo_concat_cols(ctx, 2, rnn_in_parts), state->t[ST_H],
                      state->t[ST_C], &h, &c);
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, fivo_mlp_forward(ctx, &m->prior, h), NULL,
                                              m->raw_sigma_bias, m->sigma_min, FIVO_RNG_PROPOSAL,
                                              (uint32_t)t, NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &m->latent_encoder, z);
    const fivo_tensor *em_parts[2] = {lat, h};
    fivo_tensor *em = fivo_mlp_forward(ctx, &m->emission, fivo_concat_cols(ctx, 2, em_parts));
    fivo_tensor *x;
    if (m->binary) {
        x = fivo_bernoulli_sample(ctx, em, FIVO_RNG_EMISSION, (uint32_t)t);
    } else {
        fivo_tensor *mu, *sigma;
        normal_head(ctx, em, m->D, m->emission_raw_sigma_bias, 0.0f, &mu, &sigma);
        x = fivo_stop_gradient(ctx, fivo_normal_sample(ctx, mu, sigma, FIVO_RNG_EMISSION,
                                                       (uint32_t)t));
    }
    fivo_tensor *next = fivo_tensor_new(ctx, rows, m->D);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: sample step %d: ", t);
    for (int r = 0; r < rows; r++) {
        const float *src = fivo_tensor_row(x, r);
        float *dst = fivo_tensor_row(next, r);
        for (int j = 0; j < m->D; j++)
            dst[j] = src[j] - (m->center ? m->center[j] : 0.0f);
    }
    out->count = ST_COUNT;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_LAT] = lat;
    out->t[ST_NEXT_IN] = next;
    *x_out = x;
    return FIVO_OK;
}

static const fivo_model_vtable vrnn_vtable = {
    .create = vrnn_create,
    .destroy = vrnn_destroy,
    .set_observations = vrnn_set_observations,
    .zero_state = vrnn_zero_state,
    .propose_and_weight = vrnn_propose_and_weight,
    .sample_step = vrnn_sample_step,
    .log_likelihood = NULL,
};

static const fivo_plugin_descriptor vrnn_descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "vrnn",
    .version = "1.0.0",
    .description = "Variational RNN (LSTM backbone, res_q proposals, Bernoulli/Normal emission)",
    .vtable = &vrnn_vtable,
    .vtable_size = sizeof vrnn_vtable,
    .options = vrnn_options,
    .num_options = sizeof vrnn_options / sizeof vrnn_options[0],
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major; /* the host checks the ABI and names both on mismatch */
    (void)host_abi_minor;
    return &vrnn_descriptor;
}
