/* Opening and closing a session (see session.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configure.h"
#include "session.h"

static int fail(fivo_session *s, const fivo_error *err, int code)
{
    fprintf(stderr, "fivo: error: %s\n", err->message);
    fivo_session_close(s);
    return code;
}

static const char *config_string(const fivo_config *cfg, const char *section, const char *key,
                                 const char *def)
{
    const char *v = def;
    fivo_config_get_string(cfg, section, key, def, &v, NULL);
    return v;
}

int fivo_session_open(fivo_session *s, fivo_host *h, const char *split)
{
    memset(s, 0, sizeof *s);
    s->host = h;
    fivo_error err = {0};
    long seed = 0, batch = 4, samples = 4;
    if (fivo_config_int_or(h->cfg, "fivo", "random_seed", 0, &seed, &err) != FIVO_OK ||
        fivo_config_int_or(h->cfg, "fivo", "batch_size", 4, &batch, &err) != FIVO_OK ||
        fivo_config_int_or(h->cfg, "fivo", "num_samples", 4, &samples, &err) != FIVO_OK)
        return fail(s, &err, 2);
    if (batch < 1 || samples < 1) {
        fivo_error_set(&err, FIVO_ERR_INVALID,
                       "[fivo] batch_size = %ld and num_samples = %ld must both be >= 1", batch,
                       samples);
        return fail(s, &err, 2);
    }
    s->seed = (uint64_t)seed;
    s->batch_size = (int)batch;
    s->num_samples = (int)samples;
    s->split = split;

    s->model_name = config_string(h->cfg, "model", "plugin", NULL);
    const fivo_plugin_kind kinds[] = {FIVO_PLUGIN_DATASET, FIVO_PLUGIN_MODEL, FIVO_PLUGIN_BOUND,
                                      FIVO_PLUGIN_RESAMPLER};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (fivo_host_require_plugin(h, kinds[i]) == NULL) {
            fivo_session_close(s);
            return 1;
        }
    s->dataset_name = config_string(h->cfg, "dataset", "plugin", NULL);
    s->bound_name = config_string(h->cfg, "bound", "plugin", NULL);
    s->resampler_name = config_string(h->cfg, "resampler", "plugin", NULL);
    s->dataset_path = config_string(h->cfg, "dataset", "path", NULL);

    if (fivo_dataset_open(h->reg, s->dataset_name, h->cfg, s->dataset_path, split, &s->dataset,
                          &err) != FIVO_OK)
        return fail(s, &err, 1);
    s->opened_dataset = true;
    if (fivo_dataset_get_info(&s->dataset, &s->info, &err) != FIVO_OK)
        return fail(s, &err, 1);

    s->params = fivo_params_new(s->seed);
    fivo_data_spec spec = {s->info.dim, s->info.kind, s->info.mean,
                           strcmp(s->info.kind != NULL ? s->info.kind : "", "real") == 0
                               ? s->info.max_len
                               : 0};
    if (s->params == NULL ||
        fivo_model_open(h->reg, s->model_name, h->cfg, &spec, s->params, &s->model, &err) !=
            FIVO_OK)
        return fail(s, &err, err.code == FIVO_ERR_INVALID ? 2 : 1);
    s->opened_model = true;
    if (fivo_bound_open(h->reg, s->bound_name, h->cfg, &s->bound, &err) != FIVO_OK)
        return fail(s, &err, err.code == FIVO_ERR_INVALID ? 2 : 1);
    s->opened_bound = true;
    /* A bound with parameters of its own (fivo-aux) registers them now, in
     * the model's store, before any checkpoint is restored. */
    s->spec = spec;
    if (fivo_bound_bind(&s->bound, &s->model, &s->spec, s->params, &err) != FIVO_OK)
        return fail(s, &err, err.code == FIVO_ERR_INVALID ? 2 : 1);
    if (fivo_resampler_open(h->reg, s->resampler_name, h->cfg, &s->resampler, &err) != FIVO_OK)
        return fail(s, &err, err.code == FIVO_ERR_INVALID ? 2 : 1);
    s->opened_resampler = true;
    s->ctx = fivo_ctx_new((size_t)8 << 20, 0);
    if (s->ctx == NULL) {
        fivo_error_set(&err, FIVO_ERR_NOMEM, "cannot create the tensor context");
        return fail(s, &err, 1);
    }
    /* [fivo] threads (0 or unset: every core we may use); bits do not
     * depend on it */
    long threads = 0;
    if (fivo_config_int_or(h->cfg, "fivo", "threads", 0, &threads, &err) != FIVO_OK)
        return fail(s, &err, 2);
    if (threads < 0 || threads > 4096) {
        fivo_error_set(&err, FIVO_ERR_INVALID, "[fivo] threads = %ld: expected 1..4096 (0: all cores)",
                       threads);
        return fail(s, &err, 2);
    }
    if (fivo_ctx_set_threads(s->ctx, (int)threads, &err) != FIVO_OK)
        return fail(s, &err, 1);
    return 0;
}

int fivo_session_open_split(fivo_session *s, const char *split, fivo_dataset *out,
                            fivo_dataset_info *info)
{
    fivo_error err = {0};
    if (fivo_dataset_open(s->host->reg, s->dataset_name, s->host->cfg, s->dataset_path, split,
                          out, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        return 1;
    }
    if (fivo_dataset_get_info(out, info, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        fivo_dataset_close(out);
        return 1;
    }
    return 0;
}

void fivo_session_describe(const fivo_session *s, fivo_report *r)
{
    fivo_report_set_string(r, "model", s->model_name);
    fivo_report_set_string(r, "bound", s->bound_name);
    fivo_report_set_string(r, "resampler", s->resampler_name);
    fivo_report_set_string(r, "dataset", s->dataset_name);
}

void fivo_session_close(fivo_session *s)
{
    if (s->ctx != NULL)
        fivo_ctx_free(s->ctx);
    if (s->opened_resampler)
        fivo_resampler_close(&s->resampler);
    if (s->opened_bound)
        fivo_bound_close(&s->bound);
    if (s->opened_model)
        fivo_model_close(&s->model);
    if (s->params != NULL)
        fivo_params_free(s->params);
    if (s->opened_dataset)
        fivo_dataset_close(&s->dataset);
    fivo_host *h = s->host;
    memset(s, 0, sizeof *s);
    s->host = h;
}

fivo_status fivo_session_bound(fivo_session *s, const fivo_batch *batch, fivo_smc_result *out,
                               fivo_error *err)
{
    return fivo_bound_compute(&s->bound, s->ctx, &s->model, &s->resampler, batch,
                                s->num_samples, out, err);
}

bool fivo_session_has_exact(const fivo_session *s)
{
    return FIVO_MODEL_HAS(&s->model, log_likelihood);
}

fivo_status fivo_session_open_bound(fivo_session *s, const char *name, fivo_bound *out,
                                    fivo_error *err)
{
    const fivo_plugin_info *info = fivo_registry_find(s->host->reg, FIVO_PLUGIN_BOUND, name);
    if (info == NULL) {
        char *avail = fivo_registry_names(s->host->reg, FIVO_PLUGIN_BOUND);
        fivo_status st = fivo_error_set(err, FIVO_ERR_NOT_FOUND,
                                        "[eval] bounds names no bound plugin '%s' (available: %s)",
                                        name, avail);
        free(avail);
        return st;
    }
    fivo_config *cfg = fivo_host_bound_config(s->host->cfg, info);
    if (cfg == NULL)
        return fivo_error_set(err, FIVO_ERR_INVALID, "bound '%s': bad settings", name);
    fivo_status st = fivo_bound_open(s->host->reg, name, cfg, out, err);
    fivo_config_free(cfg);
    if (st == FIVO_OK && (st = fivo_bound_bind(out, &s->model, &s->spec, s->params, err)) != FIVO_OK)
        fivo_bound_close(out);
    return st;
}
