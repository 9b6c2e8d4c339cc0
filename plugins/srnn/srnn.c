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
#include <fivo/seqmodel.h>

#include <stdlib.h>
#include <string.h>

enum { ST_LAT = 0, ST_H = 1, ST_C = 2, ST_NEXT_IN = 3, ST_COUNT = 4 };

typedef struct srnn {
    /* settings, encoders, emission, the batch (sm.D, sm.Z, sm.R, ...) */
    fivo_seqmodel sm;
    fivo_mlp prior, proposal;
    fivo_lstm lstm, rev_lstm;

    fivo_tensor *fwd;      /* (B * T) x R, row b * T + t: forward LSTM output h_t */
    fivo_tensor **fwd_h;   /* [T] B x R (state copies) */
    fivo_tensor **fwd_c;   /* [T] B x R */
    fivo_tensor *enc_tgt;  /* (T * B) x Ed, row t * B + b */
    fivo_tensor *rev;      /* (B * T) x R, row b * T + t */
} srnn;

static const fivo_option srnn_options[] = {FIVO_SEQMODEL_OPTIONS};

/* ---- configuration ------------------------------------------------------ */

static void srnn_destroy(void *self)
{
    srnn *m = self;
    if (!m)
        return;
    fivo_seqmodel_free(&m->sm);
    free(m);
}

static fivo_status srnn_create(const fivo_config *cfg, const fivo_data_spec *spec,
                               fivo_params *params, void **self, fivo_error *err)
{
    *self = NULL;
    srnn *m = calloc(1, sizeof *m);
    if (!m)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: out of memory");
    fivo_seqmodel *sm = &m->sm;
    fivo_status s = fivo_seqmodel_init(sm, "srnn", cfg, spec, params, err);
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

static fivo_status srnn_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                         int num_particles, fivo_error *err)
{
    srnn *m = self;
    fivo_seqmodel *sm = &m->sm;
    fivo_status s = fivo_seqmodel_set_batch(sm, batch, num_particles, err);
    if (s != FIVO_OK)
        return s;
    int T = sm->T, B = sm->B, TB = T * B;
    m->fwd_h = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    m->fwd_c = fivo_ctx_alloc(ctx, sizeof(fivo_tensor *) * (size_t)T);
    if (!m->fwd_h || !m->fwd_c)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    /* The forward RNN does not see z: run it once over the B sequences. */
    fivo_tensor *enc_in =
        fivo_mlp_forward(ctx, &sm->data_encoder, fivo_tensor_from(ctx, TB, sm->D, batch->inputs));
    m->fwd = fivo_seqmodel_rnn(ctx, &m->lstm, NULL, 0, enc_in, batch, false, m->fwd_h, m->fwd_c);
    m->enc_tgt = NULL;
    m->rev = NULL;
    if (!m->fwd)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        m->enc_tgt = fivo_mlp_forward(ctx, &sm->data_encoder,
                                      fivo_tensor_from(ctx, TB, sm->D, batch->targets));
        if (sm->proposal_type == FIVO_PROPOSAL_SMOOTHING) {
            /* [h_t, enc(x_t)] time-major, then the reverse RNN over it. */
            int32_t *tm = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)TB);
            if (!tm)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: arena exhausted");
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    tm[t * B + b] = b * T + t;
            const fivo_tensor *parts[2] = {fivo_gather_rows(ctx, m->fwd, tm, TB), m->enc_tgt};
            m->rev = fivo_seqmodel_rnn(ctx, &m->rev_lstm, NULL, 0, fivo_concat_cols(ctx, 2, parts),
                                       batch, true, NULL, NULL);
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
    const fivo_seqmodel *sm = &((srnn *)self)->sm;
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
    const fivo_seqmodel *sm = &m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d outside the batch set by set_observations", t);
    if (state->count != ST_COUNT || state->t[ST_LAT]->rows != sm->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "srnn: step %d: state has %d tensors of %d rows, expected %d of %d",
                              t, state->count, state->t[0]->rows, ST_COUNT, sm->rows);
    int32_t *bidx = fivo_seqmodel_seq_rows(ctx, sm, t);
    int32_t *tidx = fivo_seqmodel_step_rows(ctx, sm, t);
    if (!bidx || !tidx)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "srnn: step %d: arena exhausted", t);
    fivo_tensor *h = fivo_gather_rows(ctx, m->fwd, bidx, sm->rows);
    const fivo_tensor *lat_prev = state->t[ST_LAT];
    const fivo_tensor *p_parts[2] = {h, lat_prev};
    /* Prior and proposal heads feed one fused node: the scales, the res_q
     * mean, the draw z and log p(z) - log q(z) (left out when q = p). */
    fivo_tensor *p_out = fivo_mlp_forward(ctx, &m->prior, fivo_concat_cols(ctx, 2, p_parts));
    fivo_tensor *q_out = NULL, *ratio = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        const fivo_tensor *q_parts[3] = {h, lat_prev, NULL};
        q_parts[2] = sm->proposal_type == FIVO_PROPOSAL_FILTERING
                         ? fivo_gather_rows(ctx, m->enc_tgt, tidx, sm->rows)
                         : fivo_gather_rows(ctx, m->rev, bidx, sm->rows);
        q_out = fivo_mlp_forward(ctx, &m->proposal, fivo_concat_cols(ctx, 3, q_parts));
    }
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, p_out, q_out, sm->raw_sigma_bias, sm->sigma_min,
                                              FIVO_RNG_PROPOSAL, (uint32_t)t,
                                              q_out != NULL ? &ratio : NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &sm->latent_encoder, z);
    fivo_tensor *em = fivo_seqmodel_emission_forward(ctx, sm, lat, h, NULL);
    fivo_tensor *w = fivo_seqmodel_emission_log_prob(
        ctx, sm, em, fivo_seqmodel_tile_step(ctx, sm, sm->batch->targets, t, NULL));
    if (ratio != NULL)
        w = fivo_add(ctx, w, ratio);
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
    const fivo_seqmodel *sm = &m->sm;
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

FIVO_PLUGIN_DEFINE_QUERY(srnn_descriptor)
