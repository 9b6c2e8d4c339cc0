/* Opening and closing a session (see session.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/comm.h>
#include <fivo/threads.h>

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

/* The model (with a fresh parameter store), bound (bound to it), resampler
 * and tensor context of a session or of one of its replicas. On failure
 * leaves what it opened in r, flagged, for the caller to close. */
static fivo_status open_plugins(const fivo_session *s, fivo_replica *r, fivo_error *err)
{
    const fivo_host *h = s->host;
    r->params = fivo_params_new(s->seed);
    if (r->params == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory for the parameter store");
    fivo_status st = fivo_model_open(h->reg, s->model_name, h->cfg, &s->spec, r->params,
                                     &r->model, err);
    if (st != FIVO_OK)
        return st;
    r->opened_model = true;
    if ((st = fivo_bound_open(h->reg, s->bound_name, h->cfg, &r->bound, err)) != FIVO_OK)
        return st;
    r->opened_bound = true;
    /* A bound with parameters of its own (fivo-aux) registers them now, in
     * the model's store, before any checkpoint is restored. */
    if ((st = fivo_bound_bind(&r->bound, &r->model, &s->spec, r->params, err)) != FIVO_OK)
        return st;
    if ((st = fivo_resampler_open(h->reg, s->resampler_name, h->cfg, &r->resampler, err)) != FIVO_OK)
        return st;
    r->opened_resampler = true;
    r->ctx = fivo_ctx_new((size_t)8 << 20, 0);
    if (r->ctx == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "cannot create the tensor context");
    /* [train] memory_budget_mb: segments of the tape in training steps */
    double budget_mb = 64;
    if ((st = fivo_config_double_or(s->host->cfg, "train", "memory_budget_mb", budget_mb,
                                    &budget_mb, err)) != FIVO_OK)
        return st;
    if (!(budget_mb >= 0 && budget_mb <= 1048576))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[train] memory_budget_mb = %g: expected 0 (no limit) to 1048576",
                              budget_mb);
    const char *mode = "train";
    if ((st = fivo_config_string_or(s->host->cfg, "fivo", "mode", mode, &mode, err)) != FIVO_OK)
        return st;
    if (strcmp(mode, "train") == 0) /* other modes keep no tape */
        fivo_ctx_set_memory_budget(r->ctx, (size_t)(budget_mb * 1048576.0));
    return FIVO_OK;
}

fivo_status fivo_replica_open(const fivo_session *s, fivo_replica *r, fivo_error *err)
{
    memset(r, 0, sizeof *r);
    fivo_status st = open_plugins(s, r, err);
    if (st == FIVO_OK && fivo_params_count(r->params) != fivo_params_count(s->params))
        st = fivo_error_set(err, FIVO_ERR_INVALID,
                            "model '%s' with bound '%s' registered %d parameter tensors in a "
                            "second instance, %d in the first: it cannot run shards on threads",
                            s->model_name, s->bound_name, fivo_params_count(r->params),
                            fivo_params_count(s->params));
    for (int i = 0; st == FIVO_OK && i < fivo_params_count(s->params); i++) {
        const char *a, *b;
        fivo_tensor *x = fivo_params_at(s->params, i, &a), *y = fivo_params_at(r->params, i, &b);
        if (strcmp(a, b) != 0 || x->rows != y->rows || x->cols != y->cols)
            st = fivo_error_set(err, FIVO_ERR_INVALID,
                                "model '%s': parameter %d is %s (%dx%d) in a second instance, "
                                "%s (%dx%d) in the first: it cannot run shards on threads",
                                s->model_name, i, b, y->rows, y->cols, a, x->rows, x->cols);
    }
    if (st != FIVO_OK)
        fivo_replica_close(r);
    return st;
}

void fivo_replica_sync(fivo_replica *r, const fivo_session *s)
{
    for (int i = 0; i < fivo_params_count(s->params); i++) {
        const fivo_tensor *x = fivo_params_at(s->params, i, NULL);
        memcpy(fivo_params_at(r->params, i, NULL)->data, x->data, sizeof(float) * fivo_tensor_size(x));
    }
}

void fivo_replica_close(fivo_replica *r)
{
    if (r->ctx != NULL)
        fivo_ctx_free(r->ctx);
    if (r->opened_resampler)
        fivo_resampler_close(&r->resampler);
    if (r->opened_bound)
        fivo_bound_close(&r->bound);
    if (r->opened_model)
        fivo_model_close(&r->model);
    if (r->params != NULL)
        fivo_params_free(r->params);
    memset(r, 0, sizeof *r);
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

    s->spec = (fivo_data_spec){s->info.dim, s->info.kind, s->info.mean,
                               strcmp(s->info.kind != NULL ? s->info.kind : "", "real") == 0
                                   ? s->info.max_len
                                   : 0};
    fivo_replica r = {0};
    fivo_status st = open_plugins(s, &r, &err);
    s->params = r.params;
    s->model = r.model;
    s->bound = r.bound;
    s->resampler = r.resampler;
    s->ctx = r.ctx;
    s->opened_model = r.opened_model;
    s->opened_bound = r.opened_bound;
    s->opened_resampler = r.opened_resampler;
    if (st != FIVO_OK)
        return fail(s, &err, err.code == FIVO_ERR_INVALID ? 2 : 1);
    /* [train] memory_budget_mb too small for one step: refused before
     * training. The probe runs the model once more, so only below the
     * default of 64 MB, which fits any step we know of (step 0 checks again
     * anyway, as it does for a model that refuses the probe's batch). */
    size_t budget = fivo_ctx_memory_budget(s->ctx);
    if (budget > 0 && budget < ((size_t)64 << 20) &&
        fivo_smc_check_budget(&s->bound, &s->model, &s->resampler, s->batch_size, s->spec.dim,
                              s->num_samples, budget, &err) ==
        FIVO_ERR_NOMEM) {
        fivo_error_prefix(&err, "[train] memory_budget_mb: ");
        return fail(s, &err, 2);
    }
    memset(&err, 0, sizeof err);
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
    if (threads == 0) /* every core, shared by the ranks on this machine */
        threads = fivo_threads_available() / fivo_comm_local_size() > 0
                      ? fivo_threads_available() / fivo_comm_local_size()
                      : 1;
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
    fivo_replica own = {s->params,     s->model,       s->bound,       s->resampler,
                        s->ctx,        s->opened_model, s->opened_bound, s->opened_resampler};
    fivo_replica_close(&own); /* the session's own plugins close as a replica's do */
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
