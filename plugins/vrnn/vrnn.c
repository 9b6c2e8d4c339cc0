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
#include <fivo/ext_tilt.h>
#include <fivo/seqmodel.h>

#include <stdlib.h>
#include <string.h>

enum { ST_H = 0, ST_C = 1, ST_LAT = 2, ST_NEXT_IN = 3, ST_COUNT = 4 };

typedef struct vrnn {
    /* settings, encoders, emission, the batch (sm->D, sm->Z, sm->R, ...) */
    fivo_seqmodel *sm; /* allocated by fivo_seqmodel_init (it only grows) */
    fivo_mlp prior, proposal;
    fivo_lstm lstm, rev_lstm;

    /* Per batch: arena tensors, valid until the ctx is reset. */
    fivo_tensor *enc_in;  /* (T * B) x Ed, row t * B + b: encoded inputs */
    fivo_tensor *enc_tgt; /* (T * B) x Ed: encoded targets */
    fivo_tensor *rev;     /* (B * T) x R, row b * T + t: reverse LSTM output (smoothing) */
    /* The input-side products that every particle shares, once per batch
     * over T * B rows instead of per particle and step: */
    fivo_tensor *in_pre;  /* enc_in @ lstm kernel[:Ed]: (T * B) x 4R */
    fivo_tensor *q_pre;   /* enc_tgt (or rev) @ proposal fc1 w[R:]: rows as enc_tgt (rev) */
    /* The last propose_and_weight's z_t and log p(x_t | z_t, h_t), for
     * fivo.ext.tilt's step_terms (arena, valid until the ctx is reset). */
    fivo_tensor *last_z, *last_lpx;
    int last_t;
    /* set_observations_stepwise: each step encodes its own inputs and
     * targets (the per-batch tensors above are unused) */
    bool stepwise;
} vrnn;

static const fivo_option OPTIONS[] = {FIVO_SEQMODEL_OPTIONS};

/* ---- configuration ------------------------------------------------------ */

static void vrnn_destroy(void *self)
{
    vrnn *m = self;
    if (!m)
        return;
    fivo_seqmodel_free(m->sm);
    free(m);
}

static fivo_status vrnn_create(const fivo_config *cfg, const fivo_data_spec *spec,
                               fivo_params *params, void **self, fivo_error *err)
{
    *self = NULL;
    vrnn *m = calloc(1, sizeof *m);
    if (!m)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: out of memory");
    fivo_status s = fivo_seqmodel_init(&m->sm, "vrnn", cfg, spec, params, err);
    fivo_seqmodel *sm = m->sm;
    if (s == FIVO_OK)
        s = fivo_lstm_init(&m->lstm, params, "vrnn/lstm", sm->Ed + sm->El, sm->R, err);
    if (s == FIVO_OK)
        s = fivo_seqmodel_mlp_init(sm, &m->prior, params, "prior", sm->R, 2 * sm->Z, err);
    if (s == FIVO_OK && sm->proposal_type == FIVO_PROPOSAL_FILTERING)
        s = fivo_seqmodel_mlp_init(sm, &m->proposal, params, "proposal", sm->R + sm->Ed,
                                   2 * sm->Z, err);
    if (s == FIVO_OK && sm->proposal_type == FIVO_PROPOSAL_SMOOTHING) {
        s = fivo_seqmodel_mlp_init(sm, &m->proposal, params, "proposal", 2 * sm->R, 2 * sm->Z,
                                   err);
        if (s == FIVO_OK)
            s = fivo_lstm_init(&m->rev_lstm, params, "vrnn/rev_lstm", sm->Ed, sm->R, err);
    }
    if (s == FIVO_OK)
        s = fivo_seqmodel_emission_init(sm, params, spec, sm->R, err);
    if (s != FIVO_OK) {
        vrnn_destroy(m);
        return fivo_error_prefix(err, "vrnn: ");
    }
    *self = m;
    return FIVO_OK;
}

/* ---- per batch ----------------------------------------------------------- */

static fivo_status vrnn_set_observations(void *self, fivo_ctx *ctx, const fivo_batch *batch,
                                         int num_particles, fivo_error *err)
{
    vrnn *m = self;
    fivo_seqmodel *sm = m->sm;
    fivo_status s = fivo_seqmodel_set_batch(sm, batch, num_particles, err);
    if (s != FIVO_OK)
        return s;
    m->last_z = m->last_lpx = NULL;
    m->stepwise = false;
    int TB = sm->T * sm->B;
    /* Inputs and targets are the same for every particle: encode the B
     * sequences once, for all steps, in one matmul each. */
    fivo_tensor *in = fivo_tensor_from(ctx, TB, sm->D, batch->inputs);
    m->enc_in = fivo_mlp_forward(ctx, &sm->data_encoder, in);
    m->enc_tgt = NULL;
    m->rev = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        fivo_tensor *tgt = fivo_tensor_from(ctx, TB, sm->D, batch->targets);
        m->enc_tgt = fivo_mlp_forward(ctx, &sm->data_encoder, tgt);
        if (sm->proposal_type == FIVO_PROPOSAL_SMOOTHING) {
            m->rev = fivo_seqmodel_rnn(ctx, &m->rev_lstm, NULL, 0, m->enc_tgt, batch, true, NULL,
                                       NULL);
            if (!m->rev)
                return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: arena exhausted");
        }
    }
    m->in_pre = fivo_matmul(ctx, m->enc_in, false,
                            fivo_param_rows(ctx, m->lstm.kernel, 0, sm->Ed), false);
    m->q_pre = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        const fivo_tensor *w1 = m->proposal.layers[0].w;
        m->q_pre = fivo_matmul(ctx, sm->proposal_type == FIVO_PROPOSAL_FILTERING ? m->enc_tgt : m->rev,
                               false, fivo_param_rows(ctx, w1, sm->R, w1->rows - sm->R), false);
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: set_observations: ");
    return FIVO_OK;
}

/* For a batch the engine cuts into segments: nothing for all steps at
 * once; each step encodes its own frames (step_in_pre, step_q_pre). */
static fivo_status vrnn_set_observations_stepwise(void *self, fivo_ctx *ctx,
                                                  const fivo_batch *batch, int num_particles,
                                                  fivo_error *err)
{
    vrnn *m = self;
    (void)ctx;
    if (m->sm->proposal_type == FIVO_PROPOSAL_SMOOTHING)
        return fivo_error_set(err, FIVO_ERR_UNSUPPORTED,
                              "vrnn: the smoothing proposal's reverse LSTM needs the whole batch");
    fivo_status s = fivo_seqmodel_set_batch(m->sm, batch, num_particles, err);
    if (s != FIVO_OK)
        return s;
    m->last_z = m->last_lpx = NULL;
    m->enc_in = m->enc_tgt = m->rev = m->in_pre = m->q_pre = NULL;
    m->stepwise = true;
    return FIVO_OK;
}

/* The shared input-side products of step t, one row per particle: the
 * LSTM's (encoded x_{t-1} @ kernel[:Ed], step_in_pre) and the proposal's
 * (encoded x_t, or the reverse LSTM's output, @ fc1 w[R:], step_q_pre).
 * Gathered from the per-batch products, or, stepwise, made here from the B
 * sequences' frames: inputs and targets stacked and encoded in one MLP
 * call (*enc, for step_q_pre). NULL when the arena is exhausted. */
static fivo_tensor *step_in_pre(fivo_ctx *ctx, const vrnn *m, int t, fivo_tensor **enc)
{
    const fivo_seqmodel *sm = m->sm;
    *enc = NULL;
    if (!m->stepwise) {
        int32_t *tidx = fivo_seqmodel_step_rows(ctx, sm, t);
        return tidx ? fivo_gather_rows(ctx, m->in_pre, tidx, sm->rows) : NULL;
    }
    const bool prop = sm->proposal_type != FIVO_PROPOSAL_PRIOR;
    const int B = sm->B, D = sm->D;
    int32_t *iidx = fivo_seqmodel_step_rows(ctx, sm, 0); /* row p * B + b <- b */
    fivo_tensor *x = fivo_tensor_new(ctx, prop ? 2 * B : B, D);
    if (!iidx || fivo_ctx_status(ctx, NULL) != FIVO_OK)
        return NULL;
    memcpy(x->data, fivo_batch_at(sm->batch->inputs, sm->batch, t, 0), sizeof(float) * (size_t)B * D);
    if (prop)
        memcpy(x->data + (size_t)B * D, fivo_batch_at(sm->batch->targets, sm->batch, t, 0),
               sizeof(float) * (size_t)B * D);
    *enc = fivo_mlp_forward(ctx, &sm->data_encoder, x);
    fivo_tensor *pin = fivo_linear_pre(ctx, *enc, fivo_param_rows(ctx, m->lstm.kernel, 0, sm->Ed),
                                       NULL, NULL, false);
    return fivo_gather_rows(ctx, pin, iidx, sm->rows);
}

static fivo_tensor *step_q_pre(fivo_ctx *ctx, const vrnn *m, int t, const fivo_tensor *enc)
{
    const fivo_seqmodel *sm = m->sm;
    if (!m->stepwise) {
        int32_t *qidx = sm->proposal_type == FIVO_PROPOSAL_SMOOTHING
                            ? fivo_seqmodel_seq_rows(ctx, sm, t)
                            : fivo_seqmodel_step_rows(ctx, sm, t);
        return qidx ? fivo_gather_rows(ctx, m->q_pre, qidx, sm->rows) : NULL;
    }
    int32_t *gidx = fivo_seqmodel_step_rows(ctx, sm, 1); /* row p * B + b <- B + b */
    const fivo_tensor *w1 = m->proposal.layers[0].w;
    fivo_tensor *pq = fivo_linear_pre(ctx, enc, fivo_param_rows(ctx, w1, sm->R, w1->rows - sm->R),
                                      NULL, NULL, false);
    return gidx ? fivo_gather_rows(ctx, pq, gidx, sm->rows) : NULL;
}

static fivo_status vrnn_zero_state(void *self, fivo_ctx *ctx, int rows, fivo_state *out,
                                   fivo_error *err)
{
    const fivo_seqmodel *sm = ((vrnn *)self)->sm;
    out->count = ST_COUNT;
    out->t[ST_H] = fivo_tensor_zeros(ctx, rows, sm->R);
    out->t[ST_C] = fivo_tensor_zeros(ctx, rows, sm->R);
    out->t[ST_LAT] = fivo_tensor_zeros(ctx, rows, sm->El);
    out->t[ST_NEXT_IN] = fivo_tensor_zeros(ctx, rows, sm->D);
    return fivo_ctx_status(ctx, err);
}

static fivo_status vrnn_propose_and_weight(void *self, fivo_ctx *ctx, const fivo_state *state,
                                           int t, fivo_state *out, fivo_tensor **log_weight,
                                           fivo_error *err)
{
    vrnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: step %d outside the batch set by set_observations", t);
    if (state->count != ST_COUNT || state->t[ST_H]->rows != sm->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: step %d: state has %d tensors of %d rows, expected %d of %d",
                              t, state->count, state->t[0]->rows, ST_COUNT, sm->rows);
    /* proposal fc1 over [h, enc_tgt_t] (or [h, rev_t]) and the LSTM over
     * [enc_in_t, lat]: the first parts come precomputed */
    fivo_tensor *enc, *in_pre = step_in_pre(ctx, m, t, &enc);
    if (in_pre == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);
    fivo_tensor *h, *c;
    fivo_lstm_forward_pre(ctx, &m->lstm, in_pre, sm->Ed, state->t[ST_LAT], state->t[ST_H],
                          state->t[ST_C], &h, &c);

    /* Prior and proposal heads feed one fused node: the scales, the res_q
     * mean, the draw z and log p(z) - log q(z). */
    fivo_tensor *p_out = fivo_mlp_forward(ctx, &m->prior, h), *q_out = NULL;
    if (sm->proposal_type != FIVO_PROPOSAL_PRIOR) {
        fivo_tensor *q_pre = step_q_pre(ctx, m, t, enc);
        if (q_pre == NULL)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);
        q_out = fivo_mlp_forward_pre(ctx, &m->proposal, h, 0, q_pre);
    }
    /* With q = p the log ratio is exactly 0 and is left out. */
    fivo_tensor *ratio = NULL;
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, p_out, q_out, sm->raw_sigma_bias, sm->sigma_min,
                                              FIVO_RNG_PROPOSAL, (uint32_t)t,
                                              q_out != NULL ? &ratio : NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &sm->latent_encoder, z);
    fivo_tensor *em = fivo_seqmodel_emission_forward(ctx, sm, lat, h, NULL);
    fivo_tensor *x = fivo_seqmodel_tile_step(ctx, sm, sm->batch->targets, t, NULL);
    fivo_tensor *lpx = fivo_seqmodel_emission_log_prob(ctx, sm, em, x);
    fivo_tensor *w = ratio != NULL ? fivo_add(ctx, lpx, ratio) : lpx;
    out->count = ST_COUNT;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_LAT] = lat;
    out->t[ST_NEXT_IN] = fivo_seqmodel_tile_step(ctx, sm, sm->batch->targets, t, sm->center);
    m->last_z = z;
    m->last_lpx = lpx;
    m->last_t = t;
    *log_weight = w;
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: step %d: ", t);
    return FIVO_OK;
}

static fivo_status vrnn_sample_step(void *self, fivo_ctx *ctx, const fivo_state *state, int t,
                                    fivo_state *out, fivo_tensor **x_out, fivo_error *err)
{
    vrnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (state->count != ST_COUNT)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: sample step %d: bad state", t);
    const fivo_tensor *rnn_in_parts[2] = {
        fivo_mlp_forward(ctx, &sm->data_encoder, state->t[ST_NEXT_IN]), state->t[ST_LAT]};
    fivo_tensor *h, *c;
    fivo_lstm_forward(ctx, &m->lstm, fivo_concat_cols(ctx, 2, rnn_in_parts), state->t[ST_H],
                      state->t[ST_C], &h, &c);
    fivo_tensor *z = fivo_normal_res_q_sample(ctx, fivo_mlp_forward(ctx, &m->prior, h), NULL,
                                              sm->raw_sigma_bias, sm->sigma_min, FIVO_RNG_PROPOSAL,
                                              (uint32_t)t, NULL);
    fivo_tensor *lat = fivo_mlp_forward(ctx, &sm->latent_encoder, z);
    fivo_tensor *em = fivo_seqmodel_emission_forward(ctx, sm, lat, h, NULL);
    fivo_tensor *next, *x = fivo_seqmodel_emission_sample(ctx, sm, em, t, &next);
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: sample step %d: ", t);
    out->count = ST_COUNT;
    out->t[ST_H] = h;
    out->t[ST_C] = c;
    out->t[ST_LAT] = lat;
    out->t[ST_NEXT_IN] = next;
    *x_out = x;
    return FIVO_OK;
}

static const fivo_model_vtable VTABLE = {
    .create = vrnn_create,
    .destroy = vrnn_destroy,
    .set_observations = vrnn_set_observations,
    .zero_state = vrnn_zero_state,
    .propose_and_weight = vrnn_propose_and_weight,
    .sample_step = vrnn_sample_step,
    .log_likelihood = NULL,
    .set_observations_stepwise = vrnn_set_observations_stepwise,
};

/* ---- fivo.ext.tilt: the tilt of fivo-aux sees [h_t, encoded z_t] -------- */

static void vrnn_tilt_describe(const void *self, fivo_tilt_spec *out)
{
    fivo_seqmodel_tilt_describe(((const vrnn *)self)->sm, out);
}

static fivo_status vrnn_tilt_features(const void *self, fivo_ctx *ctx, const fivo_state *state,
                                        int t, const fivo_tensor **h, const fivo_tensor **lat,
                                        fivo_error *err)
{
    const fivo_seqmodel *sm = ((const vrnn *)self)->sm;
    if (state->count != ST_COUNT || state->t[ST_H]->cols != sm->R || state->t[ST_LAT]->cols != sm->El)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: tilt features of a foreign state");
    (void)ctx;
    (void)t;
    *h = state->t[ST_H];
    *lat = state->t[ST_LAT];
    return FIVO_OK;
}

static int vrnn_tilt_latent_size(const void *self) { return ((const vrnn *)self)->sm->Z; }

/* z_t and log p(x_t | z_t, h_t) from the state; the next prior p(z_{t+1} |
 * h_{t+1}) runs the LSTM one step ahead on [enc(x_t), enc(z_t)] (the step
 * t + 1 repeats it: a twist's price). */
static fivo_status vrnn_tilt_step_terms(const void *self, fivo_ctx *ctx, const fivo_state *state,
                                        int t, fivo_tilt_step *out, fivo_error *err)
{
    const vrnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || t < 0 || t >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: twist terms at step %d", t);
    if (state->count != ST_COUNT || state->t[ST_H]->rows != sm->rows ||
        state->t[ST_LAT]->cols != sm->El)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: twist terms of a foreign state");
    if (m->last_z == NULL || m->last_t != t || m->last_z->rows != sm->rows)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "vrnn: twist terms at step %d: not the step last proposed", t);
    out->z = m->last_z;
    out->log_px = m->last_lpx;
    out->next_mu = out->next_sigma = NULL;
    if (t + 1 < sm->T) {
        fivo_tensor *enc, *h, *c, *mu, *sigma, *in_pre = step_in_pre(ctx, m, t + 1, &enc);
        if (!in_pre)
            return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);
        fivo_lstm_forward_pre(ctx, &m->lstm, in_pre, sm->Ed, state->t[ST_LAT], state->t[ST_H],
                              state->t[ST_C], &h, &c);
        fivo_seqmodel_normal_head(ctx, fivo_mlp_forward(ctx, &m->prior, h), sm->Z, sm->raw_sigma_bias,
                                  sm->sigma_min, &mu, &sigma);
        out->next_mu = mu;
        out->next_sigma = sigma;
    }
    if (fivo_ctx_status(ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "vrnn: twist terms at step %d: ", t);
    return FIVO_OK;
}

/* (2.2) sixo's future summary: the smoothing proposal's reverse LSTM over
 * encoded x_{t+1 .. T} (its output at t + 1), so the twist reuses what the
 * proposal already computed; other proposals have none (sixo refuses). */
static int vrnn_tilt_future_size(const void *self)
{
    const fivo_seqmodel *sm = ((const vrnn *)self)->sm;
    return sm->proposal_type == FIVO_PROPOSAL_SMOOTHING ? sm->R : 0;
}

static fivo_status vrnn_tilt_future(const void *self, fivo_ctx *ctx, int t, const fivo_tensor **out,
                                    fivo_error *err)
{
    const vrnn *m = self;
    const fivo_seqmodel *sm = m->sm;
    if (!sm->batch || m->rev == NULL || t < 0 || t + 1 >= sm->T)
        return fivo_error_set(err, FIVO_ERR_INVALID, "vrnn: future summary after step %d", t);
    int32_t *idx = fivo_seqmodel_seq_rows(ctx, sm, t + 1);
    if (!idx)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "vrnn: step %d: arena exhausted", t);
    *out = fivo_gather_rows(ctx, m->rev, idx, sm->rows);
    return fivo_ctx_status(ctx, err);
}

static const fivo_ext_tilt vrnn_tilt = {.size = sizeof(fivo_ext_tilt),
                                          .describe = vrnn_tilt_describe,
                                          .features = vrnn_tilt_features,
                                          .latent_size = vrnn_tilt_latent_size,
                                          .step_terms = vrnn_tilt_step_terms,
                                          .future_size = vrnn_tilt_future_size,
                                          .future = vrnn_tilt_future};

static const void *vrnn_extension_data(const char *uri)
{
    return strcmp(uri, FIVO_EXT_TILT_URI) == 0 ? &vrnn_tilt : NULL;
}

static const fivo_plugin_descriptor DESCRIPTOR = {
    .abi_major = FIVO_ABI_MAJOR,
    .abi_minor = FIVO_ABI_MINOR,
    .kind = FIVO_PLUGIN_MODEL,
    .name = "vrnn",
    .version = "1.0.0",
    .description = "Variational RNN (LSTM backbone, res_q proposals, Bernoulli/Normal emission)",
    .vtable = &VTABLE,
    .vtable_size = sizeof VTABLE,
    FIVO_PLUGIN_OPTIONS(OPTIONS),
    .extension_data = vrnn_extension_data,
};

FIVO_PLUGIN_DEFINE_QUERY(DESCRIPTOR)
