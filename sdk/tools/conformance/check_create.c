/* Checks "create" and "choices": the model is created and destroyed with its
 * defaults and with every value each option's choice list declares. */
#include "kit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fivo/internal/registry.h>

kit_verdict kit_check_create(kit *k)
{
    kit_model a, b;
    fivo_error err = {0};
    if (!kit_model_open_default(k, &a))
        return kit_say(k, KIT_FAIL, "create with the default options failed (data %s, dim %d: "
                                    "see --kind, --dim, --set)",
                       k->spec.kind, k->D);
    int bad = 0;
    const int count = fivo_params_count(a.params);
    const size_t values = fivo_params_num_values(a.params);
    const size_t plen = strlen(k->info->name);
    for (int i = 0; i < count; i++) {
        const char *name = NULL;
        const fivo_tensor *t = fivo_params_at(a.params, i, &name);
        if (strncmp(name, k->info->name, plen) != 0 || name[plen] != '/') {
            kit_note(k, "parameter '%s' is not named '%s/...'", name, k->info->name);
            bad++;
        }
        if (!kit_all_finite(t->data, fivo_tensor_size(t))) {
            kit_note(k, "parameter '%s' has a non-finite initial value", name);
            bad++;
        }
    }
    /* Initial values are a function of the seed alone: a second instance
     * (open at the same time) starts from the same bits. */
    if (kit_model_open(k, &b, NULL, true, NULL, k->o->seed, &err) != FIVO_OK) {
        kit_note(k, "a second instance could not be created: %s", err.message);
        bad++;
    } else {
        size_t na, nb;
        float *va = kit_param_values(a.params, &na), *vb = kit_param_values(b.params, &nb);
        if (fivo_params_count(b.params) != count || na != nb || va == NULL || vb == NULL ||
            memcmp(va, vb, sizeof(float) * na) != 0) {
            kit_note(k, "a second instance with the same seed has other parameters "
                        "(%d tensors, %zu values vs %d, %zu)",
                     count, na, fivo_params_count(b.params), nb);
            bad++;
        }
        free(va);
        free(vb);
        kit_model_close(&b);
    }
    /* Creating again into the same store repeats every name: the store
     * refuses it, and the plugin must pass the error on (and free what it
     * allocated), not crash. */
    if (count > 0) {
        fivo_config *cfg = NULL;
        fivo_model dup = {0};
        if (kit_config(k, NULL, true, &cfg, &err) == FIVO_OK) {
            fivo_status st =
                fivo_model_open(k->reg, k->info->name, cfg, &k->spec, a.params, &dup, &err);
            if (st == FIVO_OK) {
                kit_note(k, "a create whose parameter names already exist in the store succeeded");
                fivo_model_close(&dup);
                bad++;
            }
            fivo_config_free(cfg);
        }
    }
    kit_model_close(&a);
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d problem(s)", bad);
    return kit_say(k, KIT_PASS, "%d parameter tensor(s), %zu values, named '%s/...'; same seed, "
                                "same initial values",
                   count, values, k->info->name);
}

/* One choice: create, an IWAE pass with finite log p-hat, destroy. */
static bool try_choice(kit *k, fivo_ctx *ctx, const char *key, const char *value)
{
    char pair[512];
    snprintf(pair, sizeof pair, "%s=%s", key, value);
    const char *extra[] = {pair, NULL};
    kit_model m;
    fivo_error err = {0};
    if (kit_model_open(k, &m, extra, true, NULL, k->o->seed, &err) != FIVO_OK) {
        kit_note(k, "%s: create failed: %s", pair, err.message);
        return false;
    }
    fivo_smc_result res;
    bool ok = kit_iwae(ctx, &m.model, &k->batch, k->o->particles, k->o->seed, 0, false, &res,
                       &err) == FIVO_OK;
    if (!ok)
        kit_note(k, "%s: the SMC pass failed: %s", pair, err.message);
    else if (!kit_all_finite(res.log_phat->data, (size_t)k->B)) {
        kit_note(k, "%s: log p-hat is not finite", pair);
        ok = false;
    } else {
        kit_note(k, "%s: %d parameter tensor(s), log p-hat[0] %.4f", pair,
                 fivo_params_count(m.params), res.log_phat->data[0]);
    }
    kit_model_close(&m);
    return ok;
}

kit_verdict kit_check_choices(kit *k)
{
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    int tried = 0, bad = 0, options = 0;
    for (size_t i = 0; i < k->info->num_options; i++) {
        const fivo_option *o = &k->info->options[i];
        if (o->choices == NULL)
            continue;
        options++;
        char *list = malloc(strlen(o->choices) + 1);
        if (list == NULL)
            break;
        strcpy(list, o->choices);
        for (char *p = list; p != NULL;) {
            char *bar = strchr(p, '|');
            if (bar != NULL)
                *bar = '\0';
            if (*p != '\0') {
                tried++;
                bad += !try_choice(k, ctx, o->key, p);
            }
            p = bar ? bar + 1 : NULL;
        }
        free(list);
    }
    fivo_ctx_free(ctx);
    if (options == 0)
        return kit_say(k, KIT_SKIP, "no option declares choices");
    if (bad > 0)
        return kit_say(k, KIT_FAIL, "%d of %d choice value(s) failed", bad, tried);
    return kit_say(k, KIT_PASS, "%d value(s) of %d option(s) create, run an IWAE pass and destroy",
                   tried, options);
}
