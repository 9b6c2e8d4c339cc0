// A VRNN with the fivo bound and multinomial resampling on the tiny
// pianoroll fixture, opened in process as fivo_session opens it (for the
// tests of libfivo's host-facing step, pass and sampling).
#pragma once

#include <string>

#include "smc_fixture.h"

extern "C" {
#include <fivo/train_step.h>
}

namespace fivo_test {

constexpr const char *kConfig = "[model]\nlatent_size=8\n";

// The model, bound and resampler on a parameter store, and a context.
struct Unit {
    fivo_params *params = nullptr;
    fivo_model model{};
    fivo_bound bound{};
    fivo_resampler resampler{};
    fivo_ctx *ctx = nullptr;
    bool ok = false;

    Unit(fivo_registry *reg, fivo_config *cfg, const fivo_data_spec *spec, fivo_error *err,
         const char *bound_name = "fivo")
    {
        params = fivo_params_new(3);
        if (fivo_model_open(reg, "vrnn", cfg, spec, params, &model, err) != FIVO_OK)
            return;
        if (fivo_bound_open(reg, bound_name, cfg, &bound, err) != FIVO_OK) {
            fivo_model_close(&model);
            return;
        }
        if (fivo_bound_bind(&bound, &model, spec, params, err) != FIVO_OK ||
            fivo_resampler_open(reg, "multinomial", cfg, &resampler, err) != FIVO_OK) {
            fivo_bound_close(&bound);
            fivo_model_close(&model);
            return;
        }
        ctx = fivo_ctx_new((size_t)8 << 20, 0);
        ok = true;
    }
    ~Unit()
    {
        if (ok) {
            fivo_ctx_free(ctx);
            fivo_resampler_close(&resampler);
            fivo_bound_close(&bound);
            fivo_model_close(&model);
        }
        fivo_params_free(params);
    }
    fivo_train_unit unit() { return {params, &model, &bound, &resampler, ctx}; }
};

// The tiny pianoroll's train split and its data spec.
struct VrnnData {
    Registry r;
    Config config;
    fivo_dataset ds{};
    fivo_dataset_info info{};
    fivo_data_spec spec{};
    bool have_ds = false;

    explicit VrnnData(const char *cfg = kConfig) : config(cfg)
    {
        fivo_error err{};
        std::string path = std::string(FIVO_TEST_FIXTURE_DIR) + "/tiny_pianoroll.pkl";
        have_ds = fivo_dataset_open(r.reg, "pianoroll", config.cfg, path.c_str(), "train", &ds,
                                    &err) == FIVO_OK;
        EXPECT_TRUE(have_ds) << err.message;
        if (have_ds) {
            EXPECT_EQ(fivo_dataset_get_info(&ds, &info, &err), FIVO_OK) << err.message;
            spec = fivo_data_spec{info.dim, info.kind, info.mean, 0, sizeof(fivo_data_spec)};
        }
    }
    ~VrnnData()
    {
        if (have_ds)
            fivo_dataset_close(&ds);
    }
};

} // namespace fivo_test
