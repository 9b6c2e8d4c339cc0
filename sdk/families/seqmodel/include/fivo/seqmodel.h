/* What the recurrent latent-variable models (vrnn, srnn, and third-party
 * ones built the same way) share, after the reference's models/base.py:
 *
 *  - the common [model] keys (FIVO_SEQMODEL_OPTIONS) and their reading:
 *    sizes, the MLPs' hidden layers, proposal_type, raw_sigma_bias,
 *    sigma_min, emission_raw_sigma_bias;
 *  - the data encoder (x -> encoded_data_size) and latent encoder
 *    (z -> encoded_latent_size) MLPs, "<name>/data_encoder", "<name>/latent_encoder";
 *  - the emission "<name>/emission": Bernoulli logits for binary data, its
 *    output bias starting at logit(clip(train mean, 1e-4, 1 - 1e-4)), or a
 *    Normal (mean, raw scale) for real data; its log-prob, its sample, and
 *    the centring of a sampled frame before it is fed back as an input;
 *  - per batch: the batch's sizes, the row indices that pick step t of a
 *    per-batch tensor for every particle, the targets of step t tiled over
 *    particles, and an LSTM run over the B sequences (optionally reversed
 *    within each sequence's length, as tf.reverse_sequence).
 *
 * A model keeps a fivo_seqmodel pointer in its own state, calls
 * fivo_seqmodel_init (which allocates it) at the start of create, fivo_seqmodel_emission_init when its other
 * parameters are registered (parameters are saved in creation order),
 * fivo_seqmodel_set_batch in set_observations and fivo_seqmodel_free in
 * destroy. Rows of per-step tensors are particle * B + sequence. */
#ifndef FIVO_SEQMODEL_H
#define FIVO_SEQMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <fivo/abi.h>
#include <fivo/batch.h>
#include <fivo/config.h>
#include <fivo/error.h>
#include <fivo/layers.h>
#include <fivo/params.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [model] proposal_type. */
typedef enum fivo_proposal_type {
    FIVO_PROPOSAL_FILTERING = 0, /* q(z_t | h_t, x_t) */
    FIVO_PROPOSAL_SMOOTHING = 1, /* q(z_t | h_t, x_{t:T}) through a reverse RNN */
    FIVO_PROPOSAL_PRIOR = 2      /* q = p: log p(z) - log q(z) is 0 */
} fivo_proposal_type;

/* The descriptor option rows of the keys fivo_seqmodel_init reads; a model
 * lists them first and may add its own:
 *   static const fivo_option opts[] = {FIVO_SEQMODEL_OPTIONS, {"my_key", ...}}; */
#define FIVO_SEQMODEL_OPTIONS                                                                      \
    {"latent_size", FIVO_OPTION_INT, "64", "size of the latent state z_t", NULL, "1", "65536"},    \
        {"proposal_type", FIVO_OPTION_STRING, "filtering",                                         \
         "q(z_t | h_t, x_t), q(z_t | h_t, x_t..x_T) through a reverse RNN, or the prior",          \
         "filtering|smoothing|prior", NULL, NULL},                                                 \
        {"rnn_hidden_size", FIVO_OPTION_INT, NULL, "LSTM hidden size (default latent_size)",       \
         NULL, "1", "65536"},                                                                      \
        {"fcnet_hidden_sizes", FIVO_OPTION_STRING, NULL,                                           \
         "comma-separated hidden layer sizes of every MLP (default latent_size)", NULL, NULL, NULL}, \
        {"encoded_data_size", FIVO_OPTION_INT, NULL,                                               \
         "data encoder output size (default latent_size)", NULL, "1", "65536"},                    \
        {"encoded_latent_size", FIVO_OPTION_INT, NULL,                                             \
         "latent encoder output size (default latent_size)", NULL, "1", "65536"},                  \
        {"raw_sigma_bias", FIVO_OPTION_DOUBLE, "0.5",                                              \
         "added to the raw scale of prior and proposal", NULL, NULL, NULL},                        \
        {"sigma_min", FIVO_OPTION_DOUBLE, "0.0", "floor of the prior and proposal scales",         \
         NULL, "0", NULL},                                                                         \
        {"emission_raw_sigma_bias", FIVO_OPTION_DOUBLE, "0.25",                                    \
         "raw scale bias of the Normal emission (real data)", NULL, NULL, NULL}

typedef struct fivo_seqmodel {
    size_t size;      /* sizeof(fivo_seqmodel) in the library that made it */
    /* Settings (fivo_seqmodel_init). */
    char name[32];    /* parameter prefix and error prefix, e.g. "vrnn" */
    int D;            /* data width (spec->dim) */
    int Z;            /* latent_size */
    int R;            /* rnn_hidden_size (default Z) */
    int Ed, El;       /* encoded_data_size, encoded_latent_size (default Z) */
    int num_hidden;   /* hidden layers of every MLP (fcnet_hidden_sizes, default one of Z) */
    int hidden[FIVO_MLP_MAX_LAYERS];
    fivo_proposal_type proposal_type;
    bool binary;      /* Bernoulli emission; false: Normal (spec->kind "real") */
    float raw_sigma_bias, sigma_min, emission_raw_sigma_bias;

    /* Parameters: the encoders (fivo_seqmodel_init) and the emission
     * (fivo_seqmodel_emission_init). */
    fivo_mlp data_encoder, latent_encoder, emission;
    float *center; /* [D] train mean subtracted from fed-back samples (binary data), or NULL */

    /* Per batch (fivo_seqmodel_set_batch): valid until the ctx is reset. */
    const fivo_batch *batch;
    int N, B, T, rows; /* particles, sequences, steps, N * B */
} fivo_seqmodel;

/* True when the library's fivo_seqmodel has `field` (added after 1.0). */
#define FIVO_SEQMODEL_HAS(sm, field) \
    (offsetof(fivo_seqmodel, field) + sizeof(((fivo_seqmodel *)0)->field) <= (sm)->size)

/* Allocates *out (set even on error, so the caller frees it), names it, reads the FIVO_SEQMODEL_OPTIONS keys of [model] and
 * spec (dim, kind), and registers the data and latent encoders. Errors name
 * the key; the caller adds its own prefix. On error call fivo_seqmodel_free. */
fivo_status fivo_seqmodel_init(fivo_seqmodel **out, const char *name, const fivo_config *cfg,
                               const fivo_data_spec *spec, fivo_params *params, fivo_error *err);
/* Frees sm and what init and emission_init allocated (not the parameters). NULL is fine. */
void fivo_seqmodel_free(fivo_seqmodel *sm);

/* The fivo.ext.tilt description of a model of this family (the tilt sees
 * [h_t, encoded z_t]): h_size R, lat_size El, the MLPs' hidden layers, the
 * emission kind. A model's ext_tilt describe slot calls it with its sm. */
struct fivo_tilt_spec;
void fivo_seqmodel_tilt_describe(const fivo_seqmodel *sm, struct fivo_tilt_spec *out);

/* An MLP "<name>/<part>" with the configured hidden layers, in -> out. */
fivo_status fivo_seqmodel_mlp_init(const fivo_seqmodel *sm, fivo_mlp *mlp, fivo_params *params,
                                   const char *part, int in, int out, fivo_error *err);

/* The emission MLP on [encoded z, h] ((El + h_size) -> D logits, or 2 D
 * Normal mean and raw scale); for binary data with a train mean, its output
 * bias is set to logit(clip(mean, 1e-4, 1 - 1e-4)) and sm->center to the
 * mean. */
fivo_status fivo_seqmodel_emission_init(fivo_seqmodel *sm, fivo_params *params,
                                        const fivo_data_spec *spec, int h_size, fivo_error *err);
/* The emission MLP's output for lat (rows x El) and h: with h_pre NULL on
 * [lat, h]; otherwise h_pre (rows x first layer width) replaces h by its
 * product with the first weight's rows [El:), e.g. gathered from a
 * per-batch product when h is shared by every particle (h is then unused). */
fivo_tensor *fivo_seqmodel_emission_forward(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                            const fivo_tensor *lat, const fivo_tensor *h,
                                            const fivo_tensor *h_pre);
/* log p(x | em) per row (rows x 1) from the emission MLP's output em. */
fivo_tensor *fivo_seqmodel_emission_log_prob(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                             const fivo_tensor *em, const fivo_tensor *x);
/* x ~ p(x | em) from stream FIVO_RNG_EMISSION at step t, without gradient.
 * next (if given) gets x - center (x when there is no center) as a new
 * tensor: the frame as the next step's input, centred as the dataset
 * centres its inputs. */
fivo_tensor *fivo_seqmodel_emission_sample(fivo_ctx *ctx, const fivo_seqmodel *sm,
                                           const fivo_tensor *em, int t, fivo_tensor **next);

/* mu = out[:, :n], sigma = max(softplus(out[:, n:2n] + raw_sigma_bias), sigma_min). */
void fivo_seqmodel_normal_head(fivo_ctx *ctx, const fivo_tensor *out, int n, float raw_sigma_bias,
                               float sigma_min, fivo_tensor **mu, fivo_tensor **sigma);

/* Checks the batch against the model (width D, non-empty, N > 0) and keeps
 * it and its sizes; errors name sm->name. */
fivo_status fivo_seqmodel_set_batch(fivo_seqmodel *sm, const fivo_batch *batch, int num_particles,
                                    fivo_error *err);
/* rows indices (arena) for fivo_gather_rows: row p * B + b <- t * B + b of a
 * time-major (T * B)-row tensor. NULL when the arena is exhausted. */
int32_t *fivo_seqmodel_step_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, int t);
/* The same for a sequence-major (B * T)-row tensor: p * B + b <- b * T + t. */
int32_t *fivo_seqmodel_seq_rows(fivo_ctx *ctx, const fivo_seqmodel *sm, int t);
/* rows x D copy of step t of a [T, B, D] batch array, tiled over particles;
 * with center, minus center on rows whose sequence is still running. */
fivo_tensor *fivo_seqmodel_tile_step(fivo_ctx *ctx, const fivo_seqmodel *sm, const float *x,
                                     int t, const float *center);

/* An LSTM from zero state over a time-major (T * B)-row input sequence of
 * the batch, B rows per step: x (T * B) x input_size, or, with pre, the
 * split of fivo_lstm_forward_pre: pre (T * B) x 4 hidden holds the first
 * pre_cols input features already multiplied by the kernel (one matmul per
 * batch) and x the remaining ones (NULL when there are none). With reverse,
 * each sequence is read backwards within its own length (steps past it in
 * order) and the outputs are put back in time order (tf.reverse_sequence
 * around the RNN). Returns (B * T) x hidden, row b * T + t; h_steps and
 * c_steps (each [T] or NULL) get every step's B x hidden state in processing
 * order. NULL when the arena is exhausted. */
fivo_tensor *fivo_seqmodel_rnn(fivo_ctx *ctx, const fivo_lstm *cell, const fivo_tensor *pre,
                               int pre_cols, const fivo_tensor *x, const fivo_batch *batch,
                               bool reverse, fivo_tensor **h_steps, fivo_tensor **c_steps);

#ifdef __cplusplus
}
#endif
#endif
