/* Opening the plugins a mode needs, and evaluation over a split. */
#include "session.h"

#include <stdio.h>
#include <string.h>

static int fail(const char *what, const fivo_error *err)
{
    fprintf(stderr, "fivo: error: %s: %s\n", what, err->message);
    return 1;
}

int fivo_session_open(fivo_host *h, fivo_session *s, const char *split, int with_bound)
{
    memset(s, 0, sizeof *s);
    fivo_config *cfg = h->cfg;
    fivo_error err;
    fivo_error_clear(&err);
    long seed, batch_size, num_samples;
    const char *path;
    if (fivo_config_int_or(cfg, "fivo", "random_seed", 0, &seed, &err) ||
        fivo_config_int_or(cfg, "fivo", "batch_size", 4, &batch_size, &err) ||
        fivo_config_int_or(cfg, "fivo", "num_samples", 4, &num_samples, &err) ||
        fivo_config_string_or(cfg, "dataset", "path", NULL, &path, &err))
        return fail("configuration", &err);
    if (batch_size <= 0 || num_samples <= 0) {
        fprintf(stderr, "fivo: error: batch_size (%ld) and num_samples (%ld) must be positive\n",
                batch_size, num_samples);
        return 1;
    }
    if (!path) {
        fprintf(stderr, "fivo: error: no data: set --dataset_path ([dataset] path)\n");
        return 1;
    }
    s->seed = (uint64_t)seed;
    s->batch_size = (int)batch_size;
    s->num_samples = (int)num_samples;
    const fivo_plugin_info *pd = fivo_host_require_plugin(h, FIVO_PLUGIN_DATASET);
    const fivo_plugin_info *pm = fivo_host_require_plugin(h, FIVO_PLUGIN_MODEL);
    if (!pd || !pm)
        return 1;
    if (fivo_dataset_open(h->reg, pd->name, cfg, path, split, &s->data, &err) != FIVO_OK)
        return fail("dataset", &err);
    s->have_data = 1;
    if (s->data.vt->info(s->data.self, &s->info, &err) != FIVO_OK) {
        fivo_session_close(s);
        return fail("dataset", &err);
    }
    long num_timesteps = 0;
    fivo_config_int_or(cfg, "model", "num_timesteps", 0, &num_timesteps, NULL);
    s->spec.dim = s->info.dim;
    s->spec.kind = s->info.kind;
    s->spec.mean = s->info.mean;
    s->spec.num_timesteps = (int)num_timesteps;
    s->params = fivo_params_new(s->seed);
    if (!s->params) {
        fivo_session_close(s);
        fprintf(stderr, "fivo: error: out of memory\n");
        return 1;
    }
    if (fivo_model_open(h->reg, pm->name, cfg, &s->spec, s->params, &s->model, &err) != FIVO_OK) {
        fivo_session_close(s);
        return fail("model", &err);
    }
    s->have_model = 1;
    if (!with_bound)
        return 0;
    const fivo_plugin_info *pb = fivo_host_require_plugin(h, FIVO_PLUGIN_BOUND);
    const fivo_plugin_info *pr = fivo_host_require_plugin(h, FIVO_PLUGIN_RESAMPLER);
    if (!pb || !pr) {
        fivo_session_close(s);
        return 1;
    }
    if (fivo_bound_open(h->reg, pb->name, cfg, &s->bound, &err) != FIVO_OK) {
        fivo_session_close(s);
        return fail("bound", &err);
    }
    s->have_bound = 1;
    if (fivo_resampler_open(h->reg, pr->name, cfg, &s->resampler, &err) != FIVO_OK) {
        fivo_session_close(s);
        return fail("resampler", &err);
    }
    s->have_resampler = 1;
    return 0;
}

void fivo_session_close(fivo_session *s)
{
    if (s->have_resampler)
        fivo_resampler_close(&s->resampler);
    if (s->have_bound)
        fivo_bound_close(&s->bound);
    if (s->have_model)
        fivo_model_close(&s->model);
    if (s->params)
        fivo_params_free(s->params);
    if (s->have_data)
        fivo_dataset_close(&s->data);
    memset(s, 0, sizeof *s);
}

static fivo_status eval_split(fivo_session *s, fivo_dataset *data, fivo_ctx *ctx,
                              const fivo_smc_options *opts, int use_bound, fivo_eval_sums *out,
                              fivo_error *err)
{
    memset(out, 0, sizeof *out);
    bool was = fivo_ctx_grad_enabled(ctx);
    fivo_status st = FIVO_OK;
    for (uint64_t i = 0;; i++) {
        fivo_batch batch;
        st = data->vt->batch(data->self, s->batch_size, false, s->seed, i, &batch, err);
        if (st == FIVO_END) {
            st = FIVO_OK;
            break;
        }
        if (st != FIVO_OK)
            break;
        fivo_ctx_reset(ctx);
        fivo_ctx_set_grad_enabled(ctx, false);
        fivo_ctx_set_seed(ctx, s->seed, i);
        fivo_smc_result res;
        memset(&res, 0, sizeof res);
        st = use_bound ? s->bound.vt->compute(s->bound.self, ctx, &s->model, &s->resampler, &batch,
                                              s->num_samples, &res, err)
                       : fivo_smc_run(ctx, &s->model, &batch, opts, &res, err);
        if (st != FIVO_OK) {
            fivo_error_prefix(err, "batch %llu: ", (unsigned long long)i);
            break;
        }
        for (int b = 0; b < batch.batch_size; b++) {
            out->ll += (double)res.log_phat->data[b];
            out->timesteps += batch.lengths[b];
        }
        out->sequences += batch.batch_size;
    }
    fivo_ctx_reset(ctx);
    fivo_ctx_set_grad_enabled(ctx, was);
    return st;
}

fivo_status fivo_session_eval_split(fivo_session *s, fivo_dataset *data, fivo_ctx *ctx,
                                    const fivo_smc_options *opts, fivo_eval_sums *out,
                                    fivo_error *err)
{
    return eval_split(s, data, ctx, opts, 0, out, err);
}

fivo_status fivo_session_eval_bound(fivo_session *s, fivo_dataset *data, fivo_ctx *ctx,
                                    fivo_eval_sums *out, fivo_error *err)
{
    return eval_split(s, data, ctx, NULL, 1, out, err);
}
