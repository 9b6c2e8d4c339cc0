/* Opening and closing a session (see session.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configure.h"
#include "session.h"
#include <fivo/internal/registry.h>

static int fail(fivo_session *s, const fivo_error *err, int code)
{
    fprintf(stderr, "fivo: error: %s\n", err->message);
    fivo_session_close(s);
    return code;
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
    const bool train = strcmp(s->host->set.mode, "train") == 0;
    const bool rgrads = train && h->set.use_resampling_grads;
    if (rgrads) {
        /* Its moving-average baseline, one slot per step of the split's
         * longest sequence: a parameter with no gradient (Adam leaves it
         * as it is), so checkpoints, resume and the shard replicas carry
         * it as they carry the model's. */
        if ((st = fivo_resampling_grads_check(&r->resampler, err)) != FIVO_OK)
            return fivo_error_prefix(err, "[train] use_resampling_grads: ");
        int slots = s->info.max_len > 0 ? s->info.max_len : 1;
        if (fivo_params_add(r->params, FIVO_TRAIN_RGRADS_BASELINE, 1, slots, FIVO_INIT_ZEROS, err) ==
            NULL)
            return fivo_error_prefix(err, "[train] use_resampling_grads: ");
    }
    r->ctx = fivo_ctx_new((size_t)8 << 20, 0);
    if (r->ctx == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "cannot create the tensor context");
    /* [train] memory_budget_mb: segments of the tape in training steps
     * (other modes keep no tape); none with use_resampling_grads, whose
     * score terms live across the loop (settings.c refuses a set budget). */
    if (train && !rgrads)
        fivo_ctx_set_memory_budget(r->ctx, (size_t)(s->host->set.memory_budget_mb * 1048576.0));
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

/* fivo_train_replicas over fivo_replica_open: each replica in its own
 * allocation, handed back to close. */
static fivo_status open_train_replica(void *user, fivo_train_unit *out, void **handle,
                                      fivo_error *err)
{
    fivo_replica *r = malloc(sizeof *r);
    if (r == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "out of memory for a replica");
    fivo_status st = fivo_replica_open(user, r, err);
    if (st != FIVO_OK) {
        free(r);
        return st;
    }
    *out = (fivo_train_unit){r->params, &r->model, &r->bound, &r->resampler, r->ctx};
    *handle = r;
    return FIVO_OK;
}

static void close_train_replica(void *user, void *handle)
{
    (void)user;
    if (handle != NULL)
        fivo_replica_close(handle);
    free(handle);
}

fivo_train_setup fivo_session_train_setup(fivo_session *s, bool normalize, int shards,
                                          int threads)
{
    return (fivo_train_setup){
        .unit = {s->params, &s->model, &s->bound, &s->resampler, s->ctx},
        .dataset = &s->dataset,
        .dataset_name = s->dataset_name,
        .dataset_path = s->dataset_path,
        .seed = s->seed,
        .batch_size = s->batch_size,
        .num_samples = s->num_samples,
        .shards = shards,
        .threads = threads,
        .normalize = normalize,
        .resampling_grads = s->host->set.use_resampling_grads &&
                            strcmp(s->host->set.mode, "train") == 0,
        .resampling_grads_decay = s->host->set.resampling_grads_decay,
        .replicas = {open_train_replica, close_train_replica, s},
    };
}

int fivo_session_open(fivo_session *s, fivo_host *h, const char *split)
{
    memset(s, 0, sizeof *s);
    s->host = h;
    fivo_error err = {0};
    s->seed = (uint64_t)h->set.random_seed; /* the rows checked the ranges */
    s->batch_size = (int)h->set.batch_size;
    s->num_samples = (int)h->set.num_samples;
    s->split = split;

    s->model_name = h->set.model;
    const fivo_plugin_kind kinds[] = {FIVO_PLUGIN_DATASET, FIVO_PLUGIN_MODEL, FIVO_PLUGIN_BOUND,
                                      FIVO_PLUGIN_RESAMPLER};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (fivo_host_require_plugin(h, kinds[i]) == NULL) {
            fivo_session_close(s);
            return 1;
        }
    s->dataset_name = h->set.dataset;
    s->bound_name = h->set.bound;
    s->resampler_name = h->set.resampler;
    s->dataset_path = h->set.dataset_path;

    if (fivo_dataset_open(h->reg, s->dataset_name, h->cfg, s->dataset_path, split, &s->dataset,
                          &err) != FIVO_OK)
        return fail(s, &err, 1);
    s->opened_dataset = true;
    if (fivo_dataset_get_info(&s->dataset, &s->info, &err) != FIVO_OK)
        return fail(s, &err, 1);

    s->spec = (fivo_data_spec){.dim = s->info.dim, .kind = s->info.kind, .mean = s->info.mean,
                               .num_timesteps = strcmp(s->info.kind != NULL ? s->info.kind : "",
                                                       "real") == 0
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
     * training. The probe runs the model once more, so only for a budget the
     * user chose; the default fits any step we know of, and step 0 checks
     * again anyway, as it does for a model that refuses the probe's batch. */
    size_t budget = fivo_ctx_memory_budget(s->ctx);
    if (budget > 0 && fivo_option_is_set(h->cfg, "train", "memory_budget_mb") &&
        fivo_smc_check_budget(&s->bound, &s->model, &s->resampler, s->batch_size, s->spec.dim,
                              s->num_samples, budget, &err) ==
        FIVO_ERR_NOMEM) {
        fivo_error_prefix(&err, "[train] memory_budget_mb: ");
        return fail(s, &err, 2);
    }
    memset(&err, 0, sizeof err);
    /* [fivo] threads, resolved (settings.c); bits do not depend on it */
    if (fivo_ctx_set_threads(s->ctx, (int)h->set.threads, &err) != FIVO_OK)
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
