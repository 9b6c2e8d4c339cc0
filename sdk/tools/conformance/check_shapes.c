/* Checks "shapes" and "lengths": the state and weight contract of
 * plugin_model.h step by step (rows, rows x 1 finite weights, the given
 * state left untouched), and a batch of unequal lengths giving each
 * sequence what it gets alone. */
#include "kit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Problems of a state of `rows` rows; each is noted with `what`. */
static int state_problems(kit *k, const fivo_state *s, int rows, const char *what)
{
    char shape[32];
    if (s->count < 1 || s->count > FIVO_STATE_MAX) {
        kit_note(k, "%s: %d state tensors, expected 1..%d", what, s->count, FIVO_STATE_MAX);
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < s->count; i++) {
        const fivo_tensor *t = s->t[i];
        if (t == NULL || t->rows != rows || t->cols < 1) {
            kit_note(k, "%s: state tensor %d is %s, expected %d rows", what, i,
                     kit_shape(t, shape, sizeof shape), rows);
            bad++;
        } else if (!kit_all_finite(t->data, fivo_tensor_size(t))) {
            kit_note(k, "%s: state tensor %d has non-finite values", what, i);
            bad++;
        }
    }
    return bad;
}

/* A copy of every state tensor's values, to catch writes into them. */
typedef struct snapshot {
    int count;
    float *v[FIVO_STATE_MAX];
} snapshot;

static void take(snapshot *s, const fivo_state *st)
{
    s->count = st->count;
    for (int i = 0; i < st->count; i++) {
        size_t n = fivo_tensor_size(st->t[i]);
        s->v[i] = malloc(sizeof(float) * (n ? n : 1));
        if (s->v[i] != NULL)
            memcpy(s->v[i], st->t[i]->data, sizeof(float) * n);
    }
}

/* Returns the index of the first modified tensor, or -1; frees the copy. */
static int changed(snapshot *s, const fivo_state *st)
{
    int which = -1;
    for (int i = 0; i < s->count; i++) {
        if (which < 0 && s->v[i] != NULL &&
            memcmp(s->v[i], st->t[i]->data, sizeof(float) * fivo_tensor_size(st->t[i])) != 0)
            which = i;
        free(s->v[i]);
    }
    return which;
}

kit_verdict kit_check_shapes(kit *k)
{
    kit_model m;
    if (!kit_model_open_default(k, &m))
        return kit_say(k, KIT_FAIL, "cannot create the model");
    const fivo_model *mm = &m.model;
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_error err = {0};
    const int N = k->o->particles, R = N * k->B;
    int bad = 0, cols0 = 0;
    char what[96], shape[32];

    fivo_ctx_set_seed(ctx, k->o->seed, 0);
    fivo_status st = fivo_model_set_observations(mm, ctx, &k->batch, N, &err);
    fivo_state s = {0};
    if (st == FIVO_OK)
        st = fivo_model_zero_state(mm, ctx, R, &s, &err);
    if (st != FIVO_OK) {
        kit_note(k, "set_observations or zero_state(%d) failed: %s", R, err.message);
        bad++;
        goto done;
    }
    bad += state_problems(k, &s, R, "zero_state");
    for (int i = 0; i < s.count && i < FIVO_STATE_MAX; i++)
        cols0 += s.t[i] ? s.t[i]->cols : 0;
    for (int t = 0; t < k->T && bad == 0; t++) {
        snapshot snap;
        take(&snap, &s);
        fivo_state next = {0};
        fivo_tensor *w = NULL;
        st = fivo_model_propose_and_weight(mm, ctx, &s, t, &next, &w, &err);
        int which = changed(&snap, &s);
        if (which >= 0) {
            kit_note(k, "step %d: propose_and_weight modified state tensor %d in place", t, which);
            bad++;
        }
        if (st != FIVO_OK) {
            kit_note(k, "step %d: propose_and_weight failed: %s", t, err.message);
            bad++;
            break;
        }
        if (fivo_ctx_status(ctx, &err) != FIVO_OK) {
            kit_note(k, "step %d: the context holds an error: %s", t, err.message);
            bad++;
        }
        if (w == NULL || w->rows != R || w->cols != 1) {
            kit_note(k, "step %d: log weight is %s, expected %dx1", t,
                     kit_shape(w, shape, sizeof shape), R);
            bad++;
        } else if (!kit_all_finite(w->data, (size_t)R)) {
            kit_note(k, "step %d: log weight has non-finite values", t);
            bad++;
        }
        snprintf(what, sizeof what, "step %d: new state", t);
        bad += state_problems(k, &next, R, what);
        s = next;
    }
    /* zero_state serves any row count (sampling uses its own), with the
     * same tensors and columns: only the rows depend on it. */
    fivo_state z0 = {0};
    if (bad == 0 && fivo_model_zero_state(mm, ctx, R, &z0, &err) != FIVO_OK)
        bad++;
    for (int rows = 1; rows <= 3 && bad == 0; rows += 2) {
        fivo_state z = {0};
        if (fivo_model_zero_state(mm, ctx, rows, &z, &err) != FIVO_OK) {
            kit_note(k, "zero_state(%d) failed: %s", rows, err.message);
            bad++;
            continue;
        }
        snprintf(what, sizeof what, "zero_state(%d)", rows);
        int p = state_problems(k, &z, rows, what);
        bad += p;
        if (p == 0 && z.count != z0.count) {
            kit_note(k, "zero_state(%d) has %d tensors, zero_state(%d) %d", rows, z.count, R,
                     z0.count);
            bad++;
        }
        for (int i = 0; p == 0 && i < z.count && i < z0.count; i++)
            if (z.t[i]->cols != z0.t[i]->cols) {
                kit_note(k, "zero_state(%d) tensor %d has %d columns, zero_state(%d) %d", rows, i,
                         (int)z.t[i]->cols, R, (int)z0.t[i]->cols);
                bad++;
            }
    }
done:
    fivo_ctx_free(ctx);
    kit_model_close(&m);
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s)", bad);
    return kit_say(k, KIT_PASS,
                   "%d state tensor(s) (%d columns) of %d rows; %d steps of %dx1 finite log "
                   "weights; the given state never modified",
                   s.count, cols0, R, k->T, R);
}

kit_verdict kit_check_lengths(kit *k)
{
    kit_model m;
    if (!kit_model_open_default(k, &m))
        return kit_say(k, KIT_FAIL, "cannot create the model");
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_error err = {0};
    fivo_smc_result res;
    int bad = 0;
    double worst = 0.0;
    /* Relative agreement asked of a sequence alone and in the batch: the
     * same noise (seq_ids key it), so only float rounding differs. */
    const double tol = 1e-4;
    fivo_batch batch = k->batch;
    batch.seq_ids = k->seq_ids;
    double *full = calloc((size_t)k->B, sizeof(double));
    bool unequal = false;
    for (int b = 1; b < k->B; b++)
        unequal = unequal || k->lengths[b] != k->lengths[0];
    if (full == NULL ||
        kit_iwae(ctx, &m.model, &batch, k->o->particles, k->o->seed, 0, false, &res, &err) !=
            FIVO_OK) {
        kit_note(k, "the SMC pass over the batch failed: %s", err.message);
        bad++;
        goto done;
    }
    for (int b = 0; b < k->B; b++)
        full[b] = res.log_phat->data[b];
    if (!kit_all_finite(res.log_phat->data, (size_t)k->B)) {
        kit_note(k, "log p-hat is not finite");
        bad++;
        goto done;
    }
    for (int b = 0; b < k->B; b++) {
        float *buf = NULL;
        fivo_batch one = kit_single_sequence(k, b, &buf);
        if (buf == NULL ||
            kit_iwae(ctx, &m.model, &one, k->o->particles, k->o->seed, 0, false, &res, &err) !=
                FIVO_OK) {
            kit_note(k, "sequence %d alone: the SMC pass failed: %s", b, err.message);
            bad++;
        } else {
            double alone = res.log_phat->data[0];
            double e = fabs(alone - full[b]) / fmax(1.0, fabs(full[b]));
            if (!(e <= tol)) {
                kit_note(k, "sequence %d (length %d): log p-hat %.6f in the batch, %.6f alone",
                         b, k->lengths[b], full[b], alone);
                bad++;
            }
            if (!(e <= worst))
                worst = isnan(e) ? INFINITY : e;
        }
        free(buf);
    }
done:
    free(full);
    fivo_ctx_free(ctx);
    kit_model_close(&m);
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s); worst relative difference %.3g (tolerance %g)",
                       bad, worst, tol);
    return kit_say(k, KIT_PASS,
                   "%d sequences%s: each one's log p-hat in the batch equals its own run alone "
                   "(worst relative difference %.3g, tolerance %g)",
                   k->B, unequal ? " of unequal lengths" : " (all of one length: pass --lengths)",
                   worst, tol);
}
