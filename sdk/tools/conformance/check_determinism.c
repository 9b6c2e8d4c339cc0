/* Check "determinism": a seed fixes every log weight bit for bit (fresh or
 * reused context, another instance, after another batch), and another seed
 * changes them (the model draws its noise from the context's RNG). */
#include "kit.h"

#include <stdlib.h>
#include <string.h>

typedef struct run {
    float *w;   /* [T, N * B] accumulated log weights, then B log p-hat */
    size_t n;
} run;

static bool record(kit *k, fivo_ctx *ctx, const fivo_model *m, uint64_t seed, run *out,
                   const char *what)
{
    fivo_smc_result res;
    fivo_error err = {0};
    const size_t nw = (size_t)k->T * k->o->particles * k->B;
    out->n = nw + (size_t)k->B;
    out->w = NULL;
    if (kit_iwae(ctx, m, &k->batch, k->o->particles, seed, 0, false, &res, &err) != FIVO_OK) {
        kit_note(k, "%s: the SMC pass failed: %s", what, err.message);
        return false;
    }
    out->w = malloc(sizeof(float) * out->n);
    if (out->w == NULL)
        return false;
    memcpy(out->w, res.log_weights, sizeof(float) * nw);
    memcpy(out->w + nw, res.log_phat->data, sizeof(float) * (size_t)k->B);
    return true;
}

/* Number of values whose bits differ. */
static size_t differing(const run *a, const run *b)
{
    size_t d = 0;
    for (size_t i = 0; i < a->n; i++)
        d += memcmp(&a->w[i], &b->w[i], sizeof(float)) != 0;
    return d;
}

kit_verdict kit_check_determinism(kit *k)
{
    kit_model m, m2;
    if (!kit_model_open_default(k, &m))
        return kit_say(k, KIT_FAIL, "cannot create the model");
    fivo_error err = {0};
    if (kit_model_open(k, &m2, NULL, true, NULL, k->o->seed, &err) != FIVO_OK) {
        kit_model_close(&m);
        kit_note(k, "a second instance: %s", err.message);
        return kit_say(k, KIT_FAIL, "cannot create a second instance");
    }
    fivo_ctx *c1 = fivo_ctx_new(1 << 20, 0), *c2 = fivo_ctx_new(1 << 16, 0);
    const uint64_t seed = k->o->seed;
    run ref = {0}, again = {0}, other_ctx = {0}, other_model = {0}, after = {0}, seed2 = {0};
    int bad = 0;
    bool ok = record(k, c1, &m.model, seed, &ref, "first run") &&
              record(k, c1, &m.model, seed, &again, "same context, reset") &&
              record(k, c2, &m.model, seed, &other_ctx, "another context") &&
              record(k, c1, &m2.model, seed, &other_model, "another instance");
    if (ok) {
        /* Another batch in between must leave nothing behind. */
        float *buf = NULL;
        fivo_batch one = kit_single_sequence(k, k->B - 1, &buf);
        fivo_smc_result res;
        if (buf != NULL)
            kit_iwae(c1, &m.model, &one, 1, seed + 1, 3, false, &res, &err);
        free(buf);
        ok = record(k, c1, &m.model, seed, &after, "after another batch") &&
             record(k, c1, &m.model, seed + 1, &seed2, "another seed");
    }
    if (!ok) {
        bad++;
    } else {
        const struct {
            const run *r;
            const char *what;
        } same[] = {{&again, "the same context after a reset"},
                    {&other_ctx, "a new context"},
                    {&other_model, "a second instance of the model"},
                    {&after, "the same model after another batch"}};
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            size_t d = differing(&ref, same[i].r);
            if (d > 0) {
                kit_note(k, "same seed, %s: %zu of %zu log weights differ", same[i].what, d,
                         ref.n);
                bad++;
            }
        }
        if (differing(&ref, &seed2) == 0) {
            kit_note(k, "seed %llu and %llu give identical log weights: is the noise drawn from "
                        "the context's RNG (fivo_randn, fivo_normal_sample)?",
                     (unsigned long long)seed, (unsigned long long)seed + 1);
            bad++;
        }
    }
    size_t n = ref.n, d2 = ok ? differing(&ref, &seed2) : 0;
    free(ref.w);
    free(again.w);
    free(other_ctx.w);
    free(other_model.w);
    free(after.w);
    free(seed2.w);
    fivo_ctx_free(c1);
    fivo_ctx_free(c2);
    kit_model_close(&m2);
    kit_model_close(&m);
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s)", bad);
    return kit_say(k, KIT_PASS,
                   "%zu log weights bit-identical for one seed (reset or new context, second "
                   "instance, after another batch); another seed changes %zu",
                   n, d2);
}
