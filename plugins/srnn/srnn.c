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
#include <fivo/ext_tilt.h>
#include <fivo/seqmodel.h>

#include <stdlib.h>
#include <string.h>

enum { ST_LAT = 0, ST_H = 1, ST_C = 2, ST_NEXT_IN = 3, ST_COUNT = 4 };

typedef struct srnn {
    /* settings, encoders, emission, the batch (sm->D, sm->Z, sm->R, ...) */
    fivo_seqmodel *sm; /* allocated by fivo_seqmodel_init (it only grows) */
    fivo_mlp prior, proposal;
    fivo_lstm lstm, rev_lstm;

    /* Per batch: arena tensors, valid until the ctx is reset. */
    fivo_tensor **fwd_h;   /* [T] B x R: the forward LSTM's state after each step */
    fivo_tensor **fwd_c;   /* [T] B x R */
    /* Everything but z is shared by the particles, so the layers over
     * [h_t, ...] get their h_t (and e_t) part once per batch, B * T rows
     * (row b * T + t); a step multiplies only enc(z_{t-1}) or enc(z_t): */
    fivo_tensor *p_pre;    /* h @ prior fc1 w[:R] */
    fivo_tensor *q_pre;    /* h @ proposal fc1 w[:R] + e @ w[R + El:] */
    fivo_tensor *em_pre;   /* h @ emission fc1 w[El:] */
    /* The last propose_and_weight's z_t and log p(x_t | z_t, h_t), for
     * fivo.ext.tilt's step_terms (arena, valid until the ctx is reset). */
    fivo_tensor *last_z, *last_lpx;
    int last_t;
} srnn;

static const fivo_option OPTIONS[] = {FIVO_SEQMODEL_OPTIONS};

/* ---- configuration ------------------------------------------------------ */

static void srnn_destroy(void *self)
{
    srnn *m = self;
    if (!m)
        return;
    fivo_seqmodel_free(m->sm);
    free(m);
}

static fivo_status srnn_create(const fivo_config *cfg, const fivo_data_spec *spec,
                               fivo_params *params, void **self, fivo_error *err)
{
    *self = NULL;
    srnn *m = calloc(1, sizeof *m);
    if (!m)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: out of memory");
    fivo_status s = fivo_seqmodel_init(&m->sm, "srnn", cfg, spec, params, err);
    fivo_seqmodel *sm = m->sm;
    if (s == FIVO_OK)
        s = fivo_lstm_init(&m->lstm, params, "srnn/lstm", sm->Ed, sm->R, err);
    if (s == FIVO_OK)
        s = fivo_seqmodel_mlp_init(sm, &m->prior, params, "prior", sm->R + sm->El, 2 * sm->Z, err);
    if (s == FIVO_OK && sm->proposal_type == FIVO_PROPOSAL_FILTERING)
        s = fivo_seqmodel_mlp_init(sm, &m->proposal, params, "proposal", sm->R + sm->El + sm->Ed,
                                   2 * sm->Z, err);
    if (s == FIVO_OK && sm->proposal_type == FIVO_PROPOSAL_SMOOTHING) {
        s = fivo_seqmodel_mlp_init(sm, &m->proposal, params, "proposal", sm->R + sm->El + sm->R,
                                   2 * sm->Z, err);
        if (s == FIVO_OK)
            s = fivo_lstm_init(&m->rev_lstm, params, "srnn/rev_lstm", sm->R + sm->Ed, sm->R, err);
    }
    if (s == FIVO_OK)
        s = fivo_seqmodel_emission_init(sm, params, spec, sm->R, err);
    if (s != FIVO_OK) {
        srnn_destroy(m);
        return fivo_error_prefix(err, "srnn: ");
    }
    *self = m;
    return FIVO_OK;
}

/* ---- per batch ----------------------------------------------------------- */

/* a @ rows [row0, row0 + a->cols) of a parameter. */
static fivo_tensor *times_rows(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *w, int row0)
{
    return fivo_matmul(ctx, a, false, fivo_param_rows(ctx, w, row0, a->cols), false);
}

static fivo_status srnn_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                         int num_particles, fivo_error *err)
{
    srnn *m = self;
    fivo_seqmodel *sm = m->sm;
    fivo_status s = fivo_seqmodel_set_batch(sm, batch, num_particles, err);
    if (s != FIVO_OK)
        return s;
    m->last_z = m->last_lpx = NULL;
    int T = sm->T, B = sm->B, TB = T * B;
    m->fwd_h = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    m->fwd_c = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    int32_t *tm = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)TB); /* t * B + b <- b * T + t */
    int32_t *bm = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)TB); /* b * T + t <- t * B + b */
    if (!m->fwd_h || !m->fwd_c || !tm || !bm)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            tm[t * B + b] = b * T + t;
            bm[b * T + t] = t * B + b;
        }
    /* The forward RNN does not see z: run it once over the B sequences,
     * its input product in one matmul. */
    fivo_tensor *enc_in =
        fivo_mlp_forward(ctx, &sm->data_encoder, fivo_tensor_from(ctx, TB, sm->D, batch->inputs));
    fivo_tensor *fwd = fivo_seqmodel_rnn(ctx, &m->lstm, times_rows(ctx, enc_in, m->lstm.kernel, 0),
                                         sm->Ed, NULL, batch, false, m->fwd_h, m->fwd_c);
    if (!fwd)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    m->p_pre = times_rows(ctx, fwd, m->prior.layers[0].w, 0);
    m->em_pre = times_rows(ctx, fwd, sm->emission.layers[0].w, sm->El);
    m->q_pre = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        fivo_tensor *enc_tgt = fivo_mlp_forward(ctx, &sm->data_encoder,
                                                fivo_tensor_from(ctx, TB, sm->D, batch->targets));
        fivo_tensor *e; /* (B * T) x width: e_t of the proposal */
        if (sm->proposal_type == FIVO_PROPOSAL_SMOOTHING) {
            /* The reverse RNN over [h_t, enc(x_t)] (time-major), its input
             * product in one matmul. */
            const fivo_tensor *parts[2] = {fivo_gather_rows(ctx, fwd, tm, TB), enc_tgt};
            fivo_tensor *in = fivo_concat_cols(ctx, 2, parts);
            e = fivo_seqmodel_rnn(ctx, &m->rev_lstm, times_rows(ctx, in, m->rev_lstm.kernel, 0),
                                  sm->R + sm->Ed, NULL, batch, true, NULL, NULL);
            if (!e)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
        } else {
            e = fivo_gather_rows(ctx, enc_tgt, bm, TB);
        }
        const fivo_tensor *w1 = m->proposal.layers[0].w;
        m->q_pre = fivo_add(ctx, times_rows(ctx, fwd, w1, 0), times_rows(ctx, e, w1, sm->R + sm->El));
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: set_observations: ");
    return FIVO_OK;
}

static fivo_status srnn_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                   fivo_error *err)
{
    const fivo_seqmodel *sm = ((srnn *)self)->sm;
    out->count = ST_COUNT;
    out->t[ST_LAT] = fivo_tensor_zeros(ctx, rows, sm->El);
    out->t[ST_H] = fivo_tensor_zeros(ctx, rows, sm->R);
    out->t[ST_C] = fivo_tensor_zeros(ctx, rows, sm->R);
    out->t[ST_NEXT_IN] = fivo_tensor_zeros(ctx, rows, sm->D);
    return fivo_ctx_status(ctx, err);
}

/* rows x R copy (no gradient) of a B x R tensor, tiled over particles. */
static fivo_tensor *tile_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, const fivo_tensor *src)
{
    fivo_tensor *out = fivo_tensor_new(ctx, sm->rows, src->cols);
    size_t n = sizeof(float) * (size_t)src->cols * (size_t)sm->B;
    if (fivo_ctx_status(ctx, NULL) != FIVO_OK)
        return out;
    for (int p = 0; p < sm->N; p++)
        memcpy(fivo_tensor_row(out, p * sm->B), src->data, n);
    return out;
}

static fivo_status srnn_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state,
                                           int t, fivo_state *out, fivo_tensor **log_weight,
                                           fivo_error *err)
{
    srnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d outside the batch set by set_observations", t);
    if (state->count != ST_COUNT || state->t[ST_LAT]->rows != sm->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d: state has %d tensors of %d rows, expected %d of %d",
                              t, state->count, state->t[0]->rows, ST_COUNT, sm->rows);
    int32_t *bidx = fivo_seqmodel_seq_rows(ctx, sm, t);
    if (!bidx)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: step %d: arena exhausted", t);
    /* Prior and proposal over [h_t, enc(z_{t-1}), ...]: all but enc(z_{t-1})
     * comes precomputed. Both heads feed one fused node: the scales, the
     * res_q mean, the draw z and log p(z) - log q(z) (left out when q = p). */
    const fivo_tensor *lat_prev = state->t[ST_LAT];
    fivo_tensor *p_out = fivo_mlp_forward_pre(ctx, &m->prior, lat_prev, sm->R,
                                              fivo_gather_rows(ctx, m->p_pre, bidx, sm->rows));
    fivo_tensor *q_out = NULL, *ratio = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR)
        q_out = fivo_mlp_forward_pre(ctx, &m->proposal, lat_prev, sm->R,
                                     fivo_gather_rows(ctx, m->q_pre, bidx, sm->rows));
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, p_out, q_out, sm->raw_sigma_bias, sm->sigma_min,
                                              FIVO_RNG_PROPOSAL, (uint32_t)t,
                                              q_out != NULL ? &ratio : NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &sm->latent_encoder, z);
    fivo_tensor *em = fivo_seqmodel_emission_forward(
        ctx, sm, lat, NULL, fivo_gather_rows(ctx, m->em_pre, bidx, sm->rows));
    fivo_tensor *lpx = fivo_seqmodel_emission_log_prob(
        ctx, sm, em, fivo_seqmodel_tile_step(ctx, sm, sm->batch->targets, t, NULL));
    fivo_tensor *w = ratio != NULL ? fivo_add(ctx, lpx, ratio) : lpx;
    m->last_z = z;
    m->last_lpx = lpx;
    m->last_t = t;
    out->count = ST_COUNT;
    out->t[ST_LAT] = lat;
    out->t[ST_H] = tile_rows(ctx, sm, m->fwd_h[t]);
    out->t[ST_C] = tile_rows(ctx, sm, m->fwd_c[t]);
    out->t[ST_NEXT_IN] = fivo_seqmodel_tile_step(ctx, sm, sm->batch->targets, t, sm->center);
    *log_weight = w;
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: step %d: ", t);
    return FIVO_OK;
}

static fivo_status srnn_sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                    fivo_state *out, fivo_tensor **x_out, fivo_error *err)
{
    srnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (state->count != ST_COUNT)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: sample step %d: bad state", t);
    fivo_tensor *h, *c;
    fivo_lstm_forward(ctx, &m->lstm, fivo_mlp_forward(ctx, &sm->data_encoder, state->t[ST_NEXT_IN]),
                      state->t[ST_H], state->t[ST_C], &h, &c);
    const fivo_tensor *p_parts[2] = {h, state->t[ST_LAT]};
    fivo_tensor *p_mu, *p_sigma;
    fivo_seqmodel_normal_head(ctx, fivo_mlp_forward(ctx, &m->prior, fivo_concat_cols(ctx, 2, p_parts)),
                              sm->Z, sm->raw_sigma_bias, sm->sigma_min, &p_mu, &p_sigma);
    fivo_tensor *z = fivo_normal_sample(ctx, p_mu, p_sigma, FIVO_RNG_PROPOSAL, (uint32_t)t);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &sm->latent_encoder, z);
    fivo_tensor *em = fivo_seqmodel_emission_forward(ctx, sm, lat, h, NULL);
    fivo_tensor *next, *x = fivo_seqmodel_emission_sample(ctx, sm, em, t, &next);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: sample step %d: ", t);
    out->count = ST_COUNT;
    out->t[ST_LAT] = lat;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_NEXT_IN] = next;
    *x_out = x;
    return FIVO_OK;
}

static const fivo_model_vtable VTABLE = {
    .create = srnn_create,
    .destroy = srnn_destroy,
    .set_observations = srnn_set_observations,
    .zero_state = srnn_zero_state,
    .propose_and_weight = srnn_propose_and_weight,
    .sample_step = srnn_sample_step,
    .log_likelihood = NULL,
};

/* ---- fivo.ext.tilt: the tilt of fivo-aux sees [h_t, encoded z_t] -------- */

static void srnn_tilt_describe(const void *self, fivo_tilt_spec *out)
{
    fivo_seqmodel_tilt_describe(((const srnn *)self)->sm, out);
}

static fivo_status srnn_tilt_features(const void *self, fivo_ctx *ctx, const fivo_state *state,
                                        int t, const fivo_tensor **h, const fivo_tensor **lat,
                                        fivo_error *err)
{
    const srnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: tilt features at step %d", t);
    if (state->count != ST_COUNT || state->t[ST_H]->cols != sm->R || state->t[ST_LAT]->cols != sm->El)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: tilt features of a foreign state");
    /* The state's h is a copy without gradient (only sample_step reads it);
     * h_t is the same for every particle of a sequence, so the tilt gets
     * the forward LSTM's own output tiled over the particles. */
    int32_t *rows = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)sm->rows);
    if (rows == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    for (int r = 0; r < sm->rows; r++)
        rows[r] = r % sm->B;
    *h = fivo_gather_rows(ctx, m->fwd_h[t], rows, sm->rows);
    *lat = state->t[ST_LAT];
    return FIVO_OK;
}

static int srnn_tilt_latent_size(const void *self) { return ((const srnn *)self)->sm->Z; }

/* z_t and log p(x_t | z_t, h_t) from the state; the next prior
 * p(z_{t+1} | h_{t+1}, z_t) from the per-batch h part and enc(z_t). */
static fivo_status srnn_tilt_step_terms(const void *self, fivo_ctx *ctx, const fivo_state *state,
                                        int t, fivo_tilt_step *out, fivo_error *err)
{
    const srnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: twist terms at step %d", t);
    if (state->count != ST_COUNT || state->t[ST_LAT]->rows != sm->rows ||
        state->t[ST_LAT]->cols != sm->El)
        return fivo_error_set(err, FIVO_ERR_INVALID, "srnn: twist terms of a foreign state");
    if (m->last_z == NULL || m->last_t != t || m->last_z->rows != sm->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: twist terms at step %d: not the step last proposed", t);
    out->z = m->last_z;
    out->log_px = m->last_lpx;
    out->next_mu = out->next_sigma = NULL;
    if (t + 1 < sm->T) {
        int32_t *bidx = fivo_seqmodel_seq_rows(ctx, sm, t + 1);
        if (!bidx)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: step %d: arena exhausted", t);
        fivo_tensor *mu, *sigma;
        fivo_seqmodel_normal_head(ctx,
                                  fivo_mlp_forward_pre(ctx, &m->prior, state->t[ST_LAT], sm->R,
                                                       fivo_gather_rows(ctx, m->p_pre, bidx, sm->rows)),
                                  sm->Z, sm->raw_sigma_bias, sm->sigma_min, &mu, &sigma);
        out->next_mu = mu;
        out->next_sigma = sigma;
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "srnn: twist terms at step %d: ", t);
    return FIVO_OK;
}

static const fivo_ext_tilt srnn_tilt = {.size = sizeof(fivo_ext_tilt),
                                          .describe = srnn_tilt_describe,
                                          .features = srnn_tilt_features,
                                          .latent_size = srnn_tilt_latent_size,
                                          .step_terms = srnn_tilt_step_terms};

static const void *srnn_extension_data(const char *uri)
{
    return strcmp(uri, FIVO_EXT_TILT_URI) == 0 ? &srnn_tilt : NULL;
}

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "srnn",
    .version = "1.0.0",
    .description = "Stochastic RNN (deterministic LSTM, Markov latents, res_q proposals)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .extension_data = srnn_extension_data,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
