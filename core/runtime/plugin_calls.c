/* Thin wrappers over plugin slots: the one place that checks an optional
 * slot and words the error, so callers never reach into ->vt->. */
#include <string.h>

#include <fivo/plugin_bound.h>
#include <fivo/plugin_dataset.h>
#include <fivo/plugin_model.h>
#include <fivo/plugin_resampler.h>
#include <fivo/internal/registry.h>

static fivo_status absent(const char *kind, const char *name, const char *slot, fivo_error *err)
{
    return fivo_error_set(err, FIVO_ERR_UNSUPPORTED, "%s '%s' has no %s slot", kind,
                          name != NULL ? name : "?", slot);
}

#define CALL(obj, HAS, kind, slot, ...)                                                      \
    (HAS(obj, slot) ? (obj)->vt->slot((obj)->self, __VA_ARGS__)                              \
                    : absent(kind, (obj)->name, #slot, err))

fivo_status fivo_model_set_observations(const fivo_model *m, fivo_ctx *ctx, const fivo_batch *batch,
                                        int num_particles, fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", set_observations, ctx, batch, num_particles, err);
}

fivo_status fivo_model_zero_state(const fivo_model *m, fivo_ctx *ctx, int rows, fivo_state *out,
                                  fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", zero_state, ctx, rows, out, err);
}

fivo_status fivo_model_propose_and_weight(const fivo_model *m, fivo_ctx *ctx,
                                          const fivo_state *state, int t, fivo_state *out,
                                          fivo_tensor **log_weight, fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", propose_and_weight, ctx, state, t, out, log_weight,
                err);
}

fivo_status fivo_model_sample_step(const fivo_model *m, fivo_ctx *ctx, const fivo_state *state,
                                   int t, fivo_state *out, fivo_tensor **x, fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", sample_step, ctx, state, t, out, x, err);
}

fivo_status fivo_model_log_likelihood(const fivo_model *m, const fivo_batch *batch, double *out,
                                      fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", log_likelihood, batch, out, err);
}

fivo_status fivo_model_set_observations_stepwise(const fivo_model *m, fivo_ctx *ctx,
                                                 const fivo_batch *batch, int num_particles,
                                                 fivo_error *err)
{
    return CALL(m, FIVO_MODEL_HAS, "model", set_observations_stepwise, ctx, batch, num_particles,
                err);
}

fivo_status fivo_bound_bind(const fivo_bound *b, const fivo_model *model, const fivo_data_spec *spec,
                            fivo_params *params, fivo_error *err)
{
    if (!FIVO_BOUND_HAS(b, bind))
        return FIVO_OK; /* nothing of its own to register */
    fivo_data_spec s = {0};
    if (spec != NULL) {
        s = *spec;
        s.struct_size = sizeof s;
    }
    return b->vt->bind(b->self, model, spec != NULL ? &s : NULL, params, err);
}

fivo_status fivo_bound_train_loss(const fivo_bound *b, fivo_ctx *ctx, const fivo_batch *batch,
                                  fivo_tensor **loss, fivo_bound_metric *metrics, int *num_metrics,
                                  fivo_error *err)
{
    *loss = NULL;
    *num_metrics = 0;
    if (!FIVO_BOUND_HAS(b, train_loss))
        return FIVO_OK; /* no loss of its own */
    fivo_status st = b->vt->train_loss(b->self, ctx, batch, loss, metrics, num_metrics, err);
    if (st == FIVO_OK && (*num_metrics < 0 || *num_metrics > FIVO_BOUND_MAX_METRICS))
        return fivo_error_set(err, FIVO_ERR_INVALID, "bound '%s': train_loss gave %d metrics (at most %d)",
                              b->name != NULL ? b->name : "?", *num_metrics, FIVO_BOUND_MAX_METRICS);
    if (st == FIVO_OK && *loss != NULL && ((*loss)->rows != batch->batch_size || (*loss)->cols != 1))
        return fivo_error_set(err, FIVO_ERR_INVALID, "bound '%s': train_loss is %d x %d, expected %d x 1",
                              b->name != NULL ? b->name : "?", (*loss)->rows, (*loss)->cols,
                              batch->batch_size);
    return st;
}

fivo_status fivo_bound_compute(const fivo_bound *b, fivo_ctx *ctx, const fivo_model *model,
                               const fivo_resampler *resampler, const fivo_batch *batch,
                               int num_particles, fivo_smc_result *out, fivo_error *err)
{
    return CALL(b, FIVO_BOUND_HAS, "bound", compute, ctx, model, resampler, batch, num_particles,
                out, err);
}

fivo_status fivo_resampler_resample(const fivo_resampler *r, const double *log_w, int n,
                                    const fivo_rng *rng, uint32_t row, int32_t *ancestors,
                                    fivo_error *err)
{
    return CALL(r, FIVO_RESAMPLER_HAS, "resampler", resample, log_w, n, rng, row, ancestors, err);
}

fivo_status fivo_resampler_resample_relaxed(const fivo_resampler *r, fivo_ctx *ctx,
                                            const fivo_tensor *log_w, const fivo_rng *rng,
                                            uint32_t row, fivo_tensor **blend, fivo_error *err)
{
    return CALL(r, FIVO_RESAMPLER_HAS, "resampler", resample_relaxed, ctx, log_w, rng, row, blend,
                err);
}

fivo_status fivo_resampler_resample_weighted(const fivo_resampler *r, fivo_ctx *ctx,
                                             const fivo_tensor *log_w, const double *lw,
                                             const fivo_rng *rng, uint32_t row,
                                             int32_t *ancestors, fivo_tensor **log_w_new,
                                             fivo_error *err)
{
    return CALL(r, FIVO_RESAMPLER_HAS, "resampler", resample_weighted, ctx, log_w, lw, rng, row,
                ancestors, log_w_new, err);
}

fivo_status fivo_resampler_resample_transport(const fivo_resampler *r, fivo_ctx *ctx,
                                              const fivo_tensor *log_w,
                                              const fivo_tensor *particles, const fivo_rng *rng,
                                              uint32_t row, fivo_tensor **blend, fivo_error *err)
{
    return CALL(r, FIVO_RESAMPLER_HAS, "resampler", resample_transport, ctx, log_w, particles,
                rng, row, blend, err);
}

/* What a dataset fills: zeroed, struct_size the room (fivo/abi.h, "Growing
 * structs"); afterwards 0 or more than the room reads as the 2.2 fields. */
static size_t filled_size(size_t declared, size_t room, size_t size_2_2)
{
    return declared == 0 || declared > room ? size_2_2 : declared;
}

fivo_status fivo_dataset_get_info(const fivo_dataset *d, fivo_dataset_info *out, fivo_error *err)
{
    if (out != NULL) {
        memset(out, 0, sizeof *out);
        out->struct_size = sizeof *out;
    }
    fivo_status st = CALL(d, FIVO_DATASET_HAS, "dataset", info, out, err);
    if (out != NULL)
        out->struct_size = filled_size(out->struct_size, sizeof *out,
                                       FIVO_STRUCT_SIZE_2_2(fivo_dataset_info));
    return st;
}

fivo_status fivo_dataset_read_batch(const fivo_dataset *d, int batch_size, bool shuffle,
                                    uint64_t seed, uint64_t index, fivo_batch *out,
                                    fivo_error *err)
{
    if (out != NULL) {
        memset(out, 0, sizeof *out);
        out->struct_size = sizeof *out;
    }
    fivo_status st =
        CALL(d, FIVO_DATASET_HAS, "dataset", batch, batch_size, shuffle, seed, index, out, err);
    if (out != NULL)
        out->struct_size =
            filled_size(out->struct_size, sizeof *out, FIVO_STRUCT_SIZE_2_2(fivo_batch));
    return st;
}

fivo_status fivo_dataset_write_sample(const fivo_dataset *d, const float *frames, int num_frames,
                                      int dim, int prefix_frames, const char *path_stem,
                                      fivo_error *err)
{
    return CALL(d, FIVO_DATASET_HAS, "dataset", write_sample, frames, num_frames, dim,
                prefix_frames, path_stem, err);
}

bool fivo_dataset_can_convert(const fivo_plugin_info *info)
{
    return info != NULL && info->kind == FIVO_PLUGIN_DATASET &&
           FIVO_VTABLE_HAS((const fivo_dataset_vtable *)info->vtable, info->vtable_size,
                           fivo_dataset_vtable, convert);
}

fivo_status fivo_dataset_convert(const fivo_plugin_info *info, const fivo_config *cfg,
                                 fivo_report *report, fivo_error *err)
{
    if (!fivo_dataset_can_convert(info))
        return absent("dataset", info != NULL ? info->name : NULL, "convert", err);
    return ((const fivo_dataset_vtable *)info->vtable)->convert(cfg, report, err);
}
