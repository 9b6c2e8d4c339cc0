/* Check "sample_step" (when the model has the slot): generation from
 * zero_state (as tests/seqmodel_suite.h does) and from the end of a prefix
 * run by propose_and_weight; frames rows x D, finite (0/1 for binary data),
 * states of the same rows, the given state untouched, a seed fixing the
 * frames bit for bit. */
#include "kit.h"

#include <stdlib.h>
#include <string.h>

/* Steps sample_step `steps` times from *s; frames appended to out (if not
 * NULL, rows * D floats per step). Returns the number of problems. */
static int generate(kit *k, const fivo_model *m, fivo_ctx *ctx, fivo_state s, int t0, int steps,
                    int rows, float *out, const char *what)
{
    const bool binary = strcmp(k->spec.kind, "binary") == 0;
    char shape[32];
    int bad = 0;
    for (int t = t0; t < t0 + steps && bad == 0; t++) {
        float *copy[FIVO_STATE_MAX] = {0};
        for (int i = 0; i < s.count && i < FIVO_STATE_MAX; i++) {
            size_t n = fivo_tensor_size(s.t[i]);
            if ((copy[i] = malloc(sizeof(float) * (n ? n : 1))) != NULL)
                memcpy(copy[i], s.t[i]->data, sizeof(float) * n);
        }
        fivo_state next = {0};
        fivo_tensor *x = NULL;
        fivo_error err = {0};
        fivo_status st = fivo_model_sample_step(m, ctx, &s, t, &next, &x, &err);
        for (int i = 0; i < s.count && i < FIVO_STATE_MAX; i++) {
            if (copy[i] != NULL && bad == 0 &&
                memcmp(copy[i], s.t[i]->data, sizeof(float) * fivo_tensor_size(s.t[i])) != 0) {
                kit_note(k, "%s, step %d: sample_step modified state tensor %d in place", what, t,
                         i);
                bad++;
            }
            free(copy[i]);
        }
        if (st != FIVO_OK) {
            kit_note(k, "%s, step %d: sample_step failed: %s", what, t, err.message);
            return bad + 1;
        }
        if (x == NULL || x->rows != rows || x->cols != k->D) {
            kit_note(k, "%s, step %d: frame is %s, expected %dx%d", what, t,
                     kit_shape(x, shape, sizeof shape), rows, k->D);
            return bad + 1;
        }
        if (!kit_all_finite(x->data, fivo_tensor_size(x))) {
            kit_note(k, "%s, step %d: frame has non-finite values", what, t);
            bad++;
        }
        for (size_t i = 0; binary && i < fivo_tensor_size(x); i++)
            if (x->data[i] != 0.0f && x->data[i] != 1.0f) {
                kit_note(k, "%s, step %d: binary data, frame value %g", what, t, x->data[i]);
                bad++;
                break;
            }
        if (next.count < 1 || next.count > FIVO_STATE_MAX) {
            kit_note(k, "%s, step %d: %d state tensors", what, t, next.count);
            return bad + 1;
        }
        for (int i = 0; i < next.count; i++)
            if (next.t[i] == NULL || next.t[i]->rows != rows) {
                kit_note(k, "%s, step %d: state tensor %d is %s, expected %d rows", what, t, i,
                         kit_shape(next.t[i], shape, sizeof shape), rows);
                bad++;
            }
        if (out != NULL)
            memcpy(out + (size_t)(t - t0) * rows * k->D, x->data, sizeof(float) * rows * k->D);
        s = next;
    }
    return bad;
}

kit_verdict kit_check_sample_step(kit *k)
{
    kit_model m;
    if (!kit_model_open_default(k, &m))
        return kit_say(k, KIT_FAIL, "cannot create the model");
    if (!FIVO_MODEL_HAS(&m.model, sample_step)) {
        kit_model_close(&m);
        return kit_say(k, KIT_SKIP, "the model has no sample_step slot");
    }
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_error err = {0};
    const int rows = 6, steps = k->T + 1, N = k->o->particles, R = N * k->B;
    float *f1 = calloc((size_t)steps * rows * k->D, sizeof(float));
    float *f2 = calloc((size_t)steps * rows * k->D, sizeof(float));
    int bad = 0;
    for (int rep = 0; rep < 2 && f1 && f2; rep++) {
        fivo_ctx_reset(ctx);
        fivo_ctx_set_grad_enabled(ctx, false);
        fivo_ctx_set_seed(ctx, k->o->seed, FIVO_RNG_DOMAIN_SAMPLE);
        fivo_state s = {0};
        if (fivo_model_zero_state(&m.model, ctx, rows, &s, &err) != FIVO_OK) {
            kit_note(k, "zero_state(%d) failed: %s", rows, err.message);
            bad++;
            break;
        }
        bad += generate(k, &m.model, ctx, s, 0, steps, rows, rep ? f2 : f1, "from zero_state");
    }
    if (bad == 0 && f1 && f2 && memcmp(f1, f2, sizeof(float) * steps * rows * k->D) != 0) {
        kit_note(k, "the same seed gave different frames");
        bad++;
    }
    /* From the particles at the end of a prefix (the host's `sample` mode). */
    const int prefix = k->T < 2 ? k->T : 2;
    fivo_ctx_reset(ctx);
    fivo_ctx_set_grad_enabled(ctx, false);
    fivo_ctx_set_seed(ctx, k->o->seed, FIVO_RNG_DOMAIN_SAMPLE);
    fivo_state s = {0};
    fivo_status st = fivo_model_set_observations(&m.model, ctx, &k->batch, N, &err);
    if (st == FIVO_OK)
        st = fivo_model_zero_state(&m.model, ctx, R, &s, &err);
    for (int t = 0; t < prefix && st == FIVO_OK; t++) {
        fivo_state next = {0};
        fivo_tensor *w = NULL;
        st = fivo_model_propose_and_weight(&m.model, ctx, &s, t, &next, &w, &err);
        s = next;
    }
    if (st != FIVO_OK) {
        kit_note(k, "running a prefix of %d steps failed: %s", prefix, err.message);
        bad++;
    } else if (bad == 0) {
        bad += generate(k, &m.model, ctx, s, prefix, steps, R, NULL, "after a prefix");
    }
    free(f1);
    free(f2);
    fivo_ctx_free(ctx);
    kit_model_close(&m);
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s)", bad);
    return kit_say(k, KIT_PASS,
                   "%d steps of %dx%d %s frames from zero_state (bit-identical for one seed) and "
                   "%d steps after a %d-step prefix at %d rows",
                   steps, rows, k->D, k->spec.kind, steps, prefix, R);
}
