/* Prefix sampling (see fivo/sample_prefix.h). */
#include <stdlib.h>
#include <string.h>

#include <fivo/progress.h>
#include <fivo/sample_prefix.h>

/* The prefix batch: the first P steps of every sequence of `full`. */
static void cut_prefix(const fivo_batch *full, int P, float *pin, float *ptg, int32_t *plen,
                       fivo_batch *out)
{
    int B = full->batch_size, D = full->dim;
    size_t step_floats = (size_t)B * (size_t)D;
    for (int t = 0; t < P && t < full->max_len; t++) {
        memcpy(pin + (size_t)t * step_floats, full->inputs + (size_t)t * step_floats,
               step_floats * sizeof(float));
        memcpy(ptg + (size_t)t * step_floats, full->targets + (size_t)t * step_floats,
               step_floats * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        plen[b] = P;
    *out = (fivo_batch){.max_len = P, .batch_size = B, .dim = D, .inputs = pin, .targets = ptg,
                        .lengths = plen, .seq_ids = full->seq_ids};
}

/* The bound may have used fewer particles (ELBO: one); tile its final
 * particles up to N per sequence. */
static fivo_status tile_state(fivo_ctx *ctx, fivo_state *state, int N, int B, fivo_error *err)
{
    int rows = state->t[0]->rows;
    if (rows == N * B)
        return FIVO_OK;
    int have = rows / B;
    int32_t *idx = fivo_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N * (size_t)B);
    if (!idx || have <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "the bound's final state has %d rows for %d sequences", rows, B);
    for (int p = 0; p < N; p++)
        for (int b = 0; b < B; b++)
            idx[p * B + b] = (p % have) * B + b;
    for (int k = 0; k < state->count; k++)
        state->t[k] = fivo_gather_rows(ctx, state->t[k], idx, N * B);
    return FIVO_OK;
}

/* L steps from `state`, each step's rows p * B + b into samples[l, b, p, :]. */
static fivo_status sample_on(const fivo_sample_setup *s, fivo_state state, int P, int L, int B,
                             int D, float *samples, fivo_error *err)
{
    int N = s->num_samples;
    fivo_progress *prog = fivo_progress_start("sample", "steps", 0, L);
    for (int l = 0; l < L; l++) {
        fivo_progress_update(prog, l, NULL);
        fivo_tensor *x;
        if (fivo_model_sample_step(s->model, s->ctx, &state, P + l, &state, &x, err) != FIVO_OK) {
            fivo_progress_finish(prog);
            return fivo_error_prefix(err, "sampling: ");
        }
        for (int p = 0; p < N; p++)
            for (int b = 0; b < B; b++)
                memcpy(samples + (((size_t)l * B + b) * N + p) * D,
                       fivo_tensor_row(x, p * B + b), sizeof(float) * (size_t)D);
    }
    fivo_progress_finish(prog);
    if (fivo_ctx_status(s->ctx, err) != FIVO_OK)
        return fivo_error_prefix(err, "sampling: ");
    return FIVO_OK;
}

fivo_status fivo_sample_prefix(const fivo_sample_setup *s, const fivo_batch *full, int prefix_len,
                               int sample_len, float *prefixes, float *samples, fivo_error *err)
{
    int B = full->batch_size, D = full->dim, P = prefix_len, L = sample_len, N = s->num_samples;
    size_t step_floats = (size_t)B * (size_t)D;
    float *pin = calloc((size_t)P * step_floats, sizeof(float));
    int32_t *plen = malloc(sizeof(int32_t) * (size_t)B);
    fivo_status st = FIVO_OK;
    if (!pin || !plen) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
        goto out;
    }
    memset(prefixes, 0, sizeof(float) * (size_t)P * step_floats);
    memset(samples, 0, sizeof(float) * (size_t)L * (size_t)N * step_floats);
    fivo_batch prefix;
    cut_prefix(full, P, pin, prefixes, plen, &prefix);

    fivo_ctx_reset(s->ctx);
    fivo_ctx_set_grad_enabled(s->ctx, false);
    /* The sampling domain: apart from every training and eval stream. */
    fivo_ctx_set_seed(s->ctx, s->seed, FIVO_RNG_DOMAIN_SAMPLE);
    fivo_smc_result res;
    memset(&res, 0, sizeof res);
    if ((st = fivo_bound_compute(s->bound, s->ctx, s->model, s->resampler, &prefix, N, &res,
                                 err)) != FIVO_OK) {
        fivo_error_prefix(err, "conditioning on the prefix: ");
        goto out;
    }
    fivo_state state = res.final_state;
    if ((st = tile_state(s->ctx, &state, N, B, err)) == FIVO_OK)
        st = sample_on(s, state, P, L, B, D, samples, err);
out:
    free(pin);
    free(plen);
    return st;
}
