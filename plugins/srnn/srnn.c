/* The SRNN model plugin (Fraccaro et al. 2016), with the semantics of the
 * TensorFlow FIVO release (research/fivo/fivo/models/srnn.py):
 *
 *   h_t = LSTM(data_encoder(x_{t-1}), h_{t-1})   deterministic: computed for
 *                                               all t in set_observations
 *   p(z_t | h_t, z_{t-1})  Normal from the "prior" MLP on [h_t, enc(z_{t-1})]
 *   q(z_t | ...)           res_q Normal on [h_t, enc(z_{t-1}), e_t] where e_t is
 *                          data_encoder(x_t) (filtering) or a reverse LSTM over
 *                          [h, data_encoder(x)]_{t..T} (smoothing); prior: q = p
 *   p(x_t | z_t, h_t)      Bernoulli or Normal from the "emission" MLP on
 *                          [latent_encoder(z_t), h_t]
 *
 * sigma = max(softplus(raw + raw_sigma_bias), sigma_min); the Bernoulli
 * output bias starts at logit(clip(train mean, 1e-4, 1 - 1e-4)).
 *
 * State (row = p * B + b): 0: encoded z_{t-1}; 1, 2: the forward LSTM's h and
 * c after step t and 3: the next (centred) input, copies without gradient
 * that only sample_step reads. Unlike the reference, which leaves the RNN
 * state at zero after conditioning, sampling continues the RNN from the
 * prefix. */
#include <fivo/fivo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROPOSAL_FILTERING = 0, PROPOSAL_SMOOTHING = 1, PROPOSAL_PRIOR = 2 };
enum { ST_LAT = 0, ST_H = 1, ST_C = 2, ST_NEXT_IN = 3, ST_COUNT = 4 };

#define MAX_HIDDEN FIVO_MLP_MAX_LAYERS

typedef struct srnn {
    int D, Z, R, Ed, El;
    int num_hidden, hidden[MAX_HIDDEN];
    int proposal_type;
    int binary;
    float raw_sigma_bias, sigma_min, emission_raw_sigma_bias;
    float *center;

    fivo_mlp data_encoder, latent_encoder, prior, proposal, emission;
    fivo_lstm lstm, rev_lstm;

    const fivo_batch *batch;
    int N, B, T, rows;
    fivo_tensor *fwd;      /* (B * T) x R, row b * T + t: forward LSTM output h_t */
    fivo_tensor **fwd_h;   /* [T] B x R (state copies) */
    fivo_tensor **fwd_c;   /* [T] B x R */
    fivo_tensor *enc_tgt;  /* (T * B) x Ed, row t * B + b */
    fivo_tensor *rev;      /* (B * T) x R, row b * T + t */
} srnn;

static const fivo_option srnn_options[] = {
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
static fivo_status make_mlp(srnn *m, fivo_mlp *mlp, fivo_params *p, const char *name, int in,
                            int out, fivo_error *err)
{
    int sizes[MAX_HIDDEN];
    for (int i = 0; i < m->num_hidden; i++)
        sizes[i] = m->hidden[i];
    sizes[m->num_hidden] = out;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "srnn/%s", name);
    return fivo_mlp_init(mlp, p, prefix, in, sizes, m->num_hidden + 1, err);
}

static void srnn_destroy(void *self)
{
    srnn *m = self;
    if (!m)
        return;
    free(m->center);
    free(m);
}

static fivo_status srnn_create(const fivo_config *cfg, const fivo_data_spec *spec,
                               fivo_params *params, void **self, fivo_error *err)
{
    *self = NULL;
    if (!spec || spec->dim <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: the data spec has no dimension");
    srnn *m = calloc(1, sizeof *m);
    if (!m)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: out of memory");
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
    if ((s = fivo_lstm_init(&m->lstm, params, "srnn/lstm", m->Ed, m->R, err)) != FIVO_OK)
        goto fail;
    if ((s = make_mlp(m, &m->prior, params, "prior", m->R + m->El, 2 * m->Z, err)) != FIVO_OK)
        goto fail;
    if (m->proposal_type == PROPOSAL_FILTERING) {
        if ((s = make_mlp(m, &m->proposal, params, "proposal", m->R + m->El + m->Ed, 2 * m->Z,
                          err)) != FIVO_OK)
            goto fail;
    } else if (m->proposal_type == PROPOSAL_SMOOTHING) {
        if ((s = make_mlp(m, &m->proposal, params, "proposal", m->R + m->El + m->R, 2 * m->Z,
                          err)) != FIVO_OK)
            goto fail;
        if ((s = fivo_lstm_init(&m->rev_lstm, params, "srnn/rev_lstm", m->R + m->Ed, m->R, err)) !=
            FIVO_OK)
            goto fail;
    }
    if ((s = make_mlp(m, &m->emission, params, "emission", m->El + m->R,
                      m->binary ? m->D : 2 * m->D, err)) != FIVO_OK)
        goto fail;
    if (m->binary && spec->mean) {
        fivo_tensor *b = m->emission.layers[m->emission.num_layers - 1].b;
        m->center = malloc(sizeof(float) * (size_t)m->D);
        if (!m->center) {
            s = fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: out of memory");
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
    srnn_destroy(m);
    return fivo_error_prefix(err, "srnn: ");
}

/* ---- per batch ----------------------------------------------------------- */

/* LSTM over a time-major (T * B) x in sequence. With reverse, each sequence
 * is reversed within its own length first and the outputs reversed back
 * (tf.reverse_sequence around tf.nn.dynamic_rnn). Returns (B * T) x R, row
 * b * T + t; h_steps / c_steps (if given) get each step's B x R state in
 * processing order. */
static fivo_tensor *run_rnn(fivo_ctx *ctx, const fivo_lstm *cell, const fivo_tensor *seq,
                            const fivo_batch *batch, int R, int reverse, fivo_tensor **h_steps,
                            fivo_tensor **c_steps)
{
    int T = batch->max_len, B = batch->batch_size;
    fivo_tensor **outs = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B);
    if (!outs || !idx)
        return NULL;
    fivo_tensor *h = fivo_tensor_zeros(ctx, B, R), *c = fivo_tensor_zeros(ctx, B, R);
    for (int s = 0; s < T; s++) {
        for (int b = 0; b < B; b++) {
            int L = batch->lengths[b];
            int src = reverse && s < L ? L - 1 - s : s;
            idx[b] = src * B + b;
        }
        fivo_tensor *x = fivo_gather_rows(ctx, seq, idx, B);
        fivo_lstm_forward(ctx, cell, x, h, c, &h, &c);
        outs[s] = h;
        if (h_steps)
            h_steps[s] = h;
        if (c_steps)
            c_steps[s] = c;
    }
    fivo_tensor *all = fivo_reshape(ctx, fivo_concat_cols(ctx, T, (const fivo_tensor *const *)outs),
                                    B * T, R);
    if (!reverse)
        return all;
    int32_t *back = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B * (size_t)T);
    if (!back)
        return NULL;
    for (int b = 0; b < B; b++) {
        int L = batch->lengths[b];
        for (int t = 0; t < T; t++)
            back[b * T + t] = b * T + (t < L ? L - 1 - t : t);
    }
    return fivo_gather_rows(ctx, all, back, B * T);
}

static fivo_status srnn_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                         int num_particles, fivo_error *err)
{
    srnn *m = self;
    if (batch->dim != m->D)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: batch has dimension %d, the model was built for %d",
                              batch->dim, m->D);
    if (num_particles <= 0 || batch->batch_size <= 0 || batch->max_len <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: empty batch or no particles");
    m->batch = batch;
    m->N = num_particles;
    m->B = batch->batch_size;
    m->T = batch->max_len;
    m->rows = m->N * m->B;
    int T = m->T, B = m->B, TB = T * B;
    m->fwd_h = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    m->fwd_c = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    if (!m->fwd_h || !m->fwd_c)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    /* The forward RNN does not see z: run it once over the B sequences. */
    fivo_tensor *enc_in =
        fivo_mlp_forward(ctx, &m->data_encoder, fivo_tensor_from(ctx, TB, m->D, batch->inputs));
    m->fwd = run_rnn(ctx, &m->lstm, enc_in, batch, m->R, 0, m->fwd_h, m->fwd_c);
    m->enc_tgt = NULL;
    m->rev = NULL;
    if (!m->fwd)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    if (m->proposal_type != PROPOSAL_PRIOR) {
        m->enc_tgt = fivo_mlp_forward(ctx, &m->data_encoder,
                                      fivo_tensor_from(ctx, TB, m->D, batch->targets));
        if (m->proposal_type == PROPOSAL_SMOOTHING) {
            /* [h_t, enc(x_t)] time-major, then the reverse RNN over it. */
            int32_t *tm = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)TB);
            if (!tm)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    tm[t * B + b] = b * T + t;
            const fivo_tensor *parts[2] = {fivo_gather_rows(ctx, m->fwd, tm, TB), m->enc_tgt};
            m->rev = run_rnn(ctx, &m->rev_lstm, fivo_concat_cols(ctx, 2, parts), batch, m->R, 1,
                             NULL, NULL);
            if (!m->rev)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
        }
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: set_observations: ");
    return FIVO_OK;
}

static fivo_status srnn_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                   fivo_error *err)
{
    srnn *m = self;
    out->count = ST_COUNT;
    out->t[ST_LAT] = fivo_tensor_zeros(ctx, rows, m->El);
    out->t[ST_H] = fivo_tensor_zeros(ctx, rows, m->R);
    out->t[ST_C] = fivo_tensor_zeros(ctx, rows, m->R);
    out->t[ST_NEXT_IN] = fivo_tensor_zeros(ctx, rows, m->D);
    return fivo_ctx_status(ctx, err);
}

static void normal_head(fivo_ctx *ctx, const fivo_tensor *out, int Z, float raw_sigma_bias,
                        float sigma_min, fivo_tensor **mu, fivo_tensor **sigma)
{
    *mu = fivo_slice_cols(ctx, out, 0, Z);
    *sigma = fivo_normal_scale(ctx, fivo_slice_cols(ctx, out, Z, Z), raw_sigma_bias, sigma_min);
}

static fivo_tensor *emission_log_prob(fivo_ctx *ctx, const srnn *m, const fivo_tensor *em,
                                      const fivo_tensor *x)
{
    if (m->binary)
        return fivo_bernoulli_log_prob(ctx, em, x);
    fivo_tensor *mu, *sigma;
    normal_head(ctx, em, m->D, m->emission_raw_sigma_bias, 0.0f, &mu, &sigma);
    return fivo_normal_log_prob(ctx, x, mu, sigma);
}

static fivo_tensor *tile_step(fivo_ctx *ctx, const srnn *m, const float *x, int t,
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

/* rows x R copy (no gradient) of a B x R tensor, tiled over particles. */
static fivo_tensor *tile_rows(fivo_ctx *ctx, const srnn *m, const fivo_tensor *src)
{
    fivo_tensor *out = fivo_tensor_new(ctx, m->rows, src->cols);
    size_t n = sizeof(float) * (size_t)src->cols * (size_t)m->B;
    for (int p = 0; p < m->N; p++)
        memcpy(fivo_tensor_row(out, p * m->B), src->data, n);
    return out;
}

static fivo_status srnn_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state,
                                           int t, fivo_state *out, fivo_tensor **log_weight,
                                           fivo_error *err)
{
    srnn *m = self;
    if (!m->batch || t < 0 || t >= m->T)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d outside the batch set by set_observations", t);
    if (state->count != ST_COUNT || state->t[ST_LAT]->rows != m->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d: state has %d tensors of %d rows, expected %d of %d",
                              t, state->count, state->t[0]->rows, ST_COUNT, m->rows);
    int32_t *bidx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)m->rows);
    int32_t *tidx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)m->rows);
    if (!bidx || !tidx)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: step %d: arena exhausted", t);
    for (int p = 0; p < m->N; p++)
        for (int b = 0; b < m->B; b++) {
            bidx[p * m->B + b] = b * m->T + t;
            tidx[p * m->B + b] = t * m->B + b;
        }
    fivo_tensor *h = fivo_gather_rows(ctx, m->fwd, bidx, m->rows);
    const fivo_tensor *lat_prev = state->t[ST_LAT];
    const fivo_tensor *p_parts[2] = {h, lat_prev};
    /* Prior and proposal heads feed one fused node: the scales, the res_q
     * mean, the draw z and log p(z) - log q(z) (left out when q = p). */
    fivo_tensor *p_out = fivo_mlp_forward(ctx, &m->prior, fivo_concat_cols(ctx, 2, p_parts));
    fivo_tensor *q_out = NULL, *ratio = NULL;
    if (m->proposal_type != PROPOSAL_PRIOR) {
        const fivo_tensor *q_parts[3] = {h, lat_prev, NULL};
        q_parts[2] = m->proposal_type == PROPOSAL_FILTERING
                         ? fivo_gather_rows(ctx, m->enc_tgt, tidx, m->rows)
                         : fivo_gather_rows(ctx, m->rev, bidx, m->rows);
        q_out = fivo_mlp_forward(ctx, &m->proposal, fivo_concat_cols(ctx, 3, q_parts));
    }
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, p_out, q_out, m->raw_sigma_bias, m->sigma_min,
                                              FIVO_RNG_PROPOSAL, (uint32_t)t,
                                              q_out != NULL ? &ratio : NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &m->latent_encoder, z);
    const fivo_tensor *em_parts[2] = {lat, h};
    fivo_tensor *em = fivo_mlp_forward(ctx, &m->emission, fivo_concat_cols(ctx, 2, em_parts));
    fivo_tensor *w = emission_log_prob(ctx, m, em, tile_step(ctx, m, m->batch->targets, t, NULL));
    if (ratio != NULL)
        w = fivo_add(ctx, w, ratio);
    out->count = ST_COUNT;
    out->t[ST_LAT] = lat;
    out->t[ST_H] = tile_rows(ctx, m, m->fwd_h[t]);
    out->t[ST_C] = tile_rows(ctx, m, m->fwd_c[t]);
    out->t[ST_NEXT_IN] = tile_step(ctx, m, m->batch->targets, t, m->center);
    *log_weight = w;
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: step %d: ", t);
    return FIVO_OK;
}

static fivo_status srnn_sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                    fivo_state *out, fivo_tensor **x_out, fivo_error *err)
{
    srnn *m = self;
    if (state->count != ST_COUNT)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: sample step %d: bad state", t);
    int rows = state->t[ST_LAT]->rows;
    fivo_tensor *h, *c;
    fivo_lstm_forward(ctx, &m->lstm, fivo_mlp_forward(ctx, &m->data_encoder, state->t[ST_NEXT_IN]),
                      state->t[ST_H], state->t[ST_C], &h, &c);
    const fivo_tensor *p_parts[2] = {h, state->t[ST_LAT]};
    fivo_tensor *p_mu, *p_sigma;
    normal_head(ctx, fivo_mlp_forward(ctx, &m->prior, fivo_concat_cols(ctx, 2, p_parts)), m->Z,
                m->raw_sigma_bias, m->sigma_min, &p_mu, &p_sigma);
    fivo_tensor *z = fivo_normal_sample(ctx, p_mu, p_sigma, FIVO_RNG_PROPOSAL, (uint32_t)t);
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
        return fivo_error_prefix(err, "srnn: sample step %d: ", t);
    for (int r = 0; r < rows; r++) {
        const float *src = fivo_tensor_row(x, r);
        float *dst = fivo_tensor_row(next, r);
        for (int j = 0; j < m->D; j++)
            dst[j] = src[j] - (m->center ? m->center[j] : 0.0f);
    }
    out->count = ST_COUNT;
    out->t[ST_LAT] = lat;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_NEXT_IN] = next;
    *x_out = x;
    return FIVO_OK;
}

static const fivo_model_vtable srnn_vtable = {
    .create = srnn_create,
    .destroy = srnn_destroy,
    .set_observations = srnn_set_observations,
    .zero_state = srnn_zero_state,
    .propose_and_weight = srnn_propose_and_weight,
    .sample_step = srnn_sample_step,
    .log_likelihood = NULL,
};

static const fivo_plugin_descriptor srnn_descriptor = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "srnn",
    .version = "1.0.0",
    .description = "Stochastic RNN (deterministic LSTM, Markov latents, res_q proposals)",
    .vtable = &srnn_vtable,
    .vtable_size = sizeof srnn_vtable,
    .options = srnn_options,
    .num_options = sizeof srnn_options / sizeof srnn_options[0],
};

FIVO_EXPORT const fivo_plugin_descriptor *fivo_plugin_query(uint32_t host_abi_major,
                                                            uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &srnn_descriptor;
}
