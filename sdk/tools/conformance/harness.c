/* What the checks share: opening the model under test as the host does,
 * running the SMC engine, the per-check report buffer, small helpers. */
#include "kit.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fivo/internal/registry.h>

void kit_note(kit *k, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strlen(line);
    char *grown = realloc(k->details, k->details_len + len + 6);
    if (grown == NULL)
        return;
    k->details = grown;
    memcpy(k->details + k->details_len, "    ", 4);
    memcpy(k->details + k->details_len + 4, line, len);
    k->details_len += len + 4;
    k->details[k->details_len++] = '\n';
    k->details[k->details_len] = '\0';
}

kit_verdict kit_say(kit *k, kit_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->reason, sizeof k->reason, fmt, ap);
    va_end(ap);
    return v;
}

/* Splits "KEY=VALUE" (an optional "model." prefix is dropped) and sets it. */
static fivo_status set_pair(fivo_config *cfg, const char *pair, const char *origin,
                            fivo_error *err)
{
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair)
        return fivo_error_set(err, FIVO_ERR_INVALID, "'%s': expected KEY=VALUE", pair);
    size_t klen = (size_t)(eq - pair);
    if (klen > 6 && strncmp(pair, "model.", 6) == 0) {
        pair += 6;
        klen -= 6;
    }
    char key[256];
    if (klen >= sizeof key)
        return fivo_error_set(err, FIVO_ERR_INVALID, "'%s': key too long", pair);
    memcpy(key, pair, klen);
    key[klen] = '\0';
    return fivo_config_set_from(cfg, "model", key, eq + 1, origin);
}

static fivo_status set_all(fivo_config *cfg, const char *const *pairs, const char *origin,
                           fivo_error *err)
{
    for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i++) {
        fivo_status st = set_pair(cfg, pairs[i], origin, err);
        if (st != FIVO_OK)
            return st;
    }
    return FIVO_OK;
}

fivo_status kit_config(kit *k, const char *const *extra, bool apply, fivo_config **out,
                       fivo_error *err)
{
    fivo_config *cfg = fivo_config_new();
    *out = NULL;
    if (cfg == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
    fivo_status st = set_all(cfg, k->o->settings, "--set", err);
    if (st == FIVO_OK && apply)
        st = set_all(cfg, extra, "check", err);
    if (st == FIVO_OK)
        st = fivo_plugin_apply_options(k->info, cfg, "model", NULL, err);
    if (st == FIVO_OK && !apply)
        st = set_all(cfg, extra, "check", err); /* past the host's checks: the plugin's turn */
    if (st != FIVO_OK) {
        fivo_config_free(cfg);
        return st;
    }
    *out = cfg;
    return FIVO_OK;
}

fivo_status kit_model_open(kit *k, kit_model *m, const char *const *extra, bool apply,
                           const fivo_data_spec *spec, uint64_t seed, fivo_error *err)
{
    memset(m, 0, sizeof *m);
    fivo_config *cfg = NULL;
    fivo_status st = kit_config(k, extra, apply, &cfg, err);
    if (st != FIVO_OK)
        return st;
    if ((m->params = fivo_params_new(seed)) == NULL) {
        fivo_config_free(cfg);
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory");
    }
    st = fivo_model_open(k->reg, k->info->name, cfg, spec != NULL ? spec : &k->spec, m->params,
                         &m->model, err);
    fivo_config_free(cfg);
    m->open = st == FIVO_OK;
    if (!m->open) {
        fivo_params_free(m->params);
        m->params = NULL;
    }
    return st;
}

void kit_model_close(kit_model *m)
{
    if (m->open)
        fivo_model_close(&m->model);
    fivo_params_free(m->params);
    memset(m, 0, sizeof *m);
}

bool kit_model_open_default(kit *k, kit_model *m)
{
    fivo_error err = {0};
    if (kit_model_open(k, m, NULL, true, NULL, k->o->seed, &err) == FIVO_OK)
        return true;
    kit_note(k, "cannot create the model with the given settings: %s", err.message);
    return false;
}

float *kit_param_values(const fivo_params *p, size_t *n)
{
    *n = fivo_params_num_values(p);
    float *v = malloc(sizeof(float) * (*n > 0 ? *n : 1));
    if (v == NULL)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < fivo_params_count(p); i++) {
        const fivo_tensor *t = fivo_params_at(p, i, NULL);
        memcpy(v + at, t->data, sizeof(float) * fivo_tensor_size(t));
        at += fivo_tensor_size(t);
    }
    return v;
}

fivo_status kit_smc(fivo_ctx *ctx, const fivo_model *m, const fivo_batch *batch, int particles,
                    fivo_criterion crit, const fivo_resampler *resampler, uint64_t seed,
                    uint64_t step, bool grad, fivo_smc_result *res, fivo_error *err)
{
    fivo_ctx_reset(ctx);
    fivo_ctx_set_grad_enabled(ctx, grad);
    fivo_ctx_set_seed(ctx, seed, step);
    fivo_smc_options o = {.num_particles = particles,
                          .criterion = crit,
                          .ess_threshold = 0.5,
                          .resampler = resampler};
    memset(res, 0, sizeof *res);
    return fivo_smc_run(ctx, m, batch, &o, res, err);
}

fivo_status kit_iwae(fivo_ctx *ctx, const fivo_model *m, const fivo_batch *batch, int particles,
                     uint64_t seed, uint64_t step, bool grad, fivo_smc_result *res,
                     fivo_error *err)
{
    return kit_smc(ctx, m, batch, particles, FIVO_RESAMPLE_NEVER, NULL, seed, step, grad, res,
                   err);
}

fivo_batch kit_single_sequence(const kit *k, int b, float **buf)
{
    const int L = k->lengths[b], D = k->D;
    fivo_batch one = {0};
    *buf = calloc((size_t)2 * (size_t)(L > 0 ? L : 1) * (size_t)D, sizeof(float));
    if (*buf == NULL)
        return one;
    float *in = *buf, *tg = *buf + (size_t)L * D;
    for (int t = 0; t < L; t++) {
        memcpy(in + (size_t)t * D, fivo_batch_at(k->inputs, &k->batch, t, b), sizeof(float) * D);
        memcpy(tg + (size_t)t * D, fivo_batch_at(k->targets, &k->batch, t, b), sizeof(float) * D);
    }
    one.max_len = L;
    one.batch_size = 1;
    one.dim = D;
    one.inputs = in;
    one.targets = tg;
    one.lengths = &k->lengths[b];
    one.seq_ids = &k->seq_ids[b];
    return one;
}

bool kit_all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

const char *kit_shape(const fivo_tensor *t, char *buf, size_t n)
{
    if (t == NULL)
        snprintf(buf, n, "NULL");
    else
        snprintf(buf, n, "%dx%d", (int)t->rows, (int)t->cols);
    return buf;
}
