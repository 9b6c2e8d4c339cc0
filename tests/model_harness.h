// Shared by test_vrnn and test_srnn: loads a built model plugin, makes a
// tiny random batch and checks the gradient of a whole bound (every
// parameter, through the SMC engine) against central finite differences.
#pragma once

#include <gtest/gtest.h>

#include "gradcheck.h"

#include <fivo/fivo.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace mh {

struct TinyBatch {
    int T, B, D;
    std::vector<float> inputs, targets;
    std::vector<int32_t> lengths;
    fivo_batch batch{};
    std::vector<double> mean;

    // Binary (pianoroll-like) or real data; sequence b has length T - b.
    TinyBatch(int T_, int B_, int D_, bool binary, unsigned seed) : T(T_), B(B_), D(D_)
    {
        std::mt19937 g(seed);
        std::uniform_real_distribution<float> u(0, 1);
        std::normal_distribution<float> n(0, 1);
        targets.assign((size_t)T * B * D, 0.0f);
        inputs.assign((size_t)T * B * D, 0.0f);
        lengths.resize(B);
        mean.assign(D, 0.0);
        for (int j = 0; j < D; j++)
            mean[j] = 0.2 + 0.5 * j / D;
        for (int b = 0; b < B; b++) {
            lengths[b] = T - (b % T);
            for (int t = 0; t < lengths[b]; t++)
                for (int j = 0; j < D; j++) {
                    float x = binary ? (u(g) < mean[j] ? 1.0f : 0.0f) : n(g);
                    targets[((size_t)t * B + b) * D + j] = x;
                    if (t + 1 < lengths[b])
                        inputs[((size_t)(t + 1) * B + b) * D + j] =
                            binary ? x - (float)mean[j] : x;
                }
        }
        batch.max_len = T;
        batch.batch_size = B;
        batch.dim = D;
        batch.inputs = inputs.data();
        batch.targets = targets.data();
        batch.lengths = lengths.data();
        batch.seq_ids = nullptr;
    }
};

struct Loaded {
    fivo_registry *reg = nullptr;
    fivo_config *cfg = nullptr;
    fivo_params *params = nullptr;
    fivo_model model{};
    fivo_resampler resampler{};
    bool have_model = false, have_resampler = false;
    fivo_error err{};

    Loaded(const char *name, const std::vector<std::pair<std::string, std::string>> &opts,
           const fivo_data_spec &spec, uint64_t seed = 7)
    {
        reg = fivo_registry_new();
        std::string dir = FIVO_TEST_PLUGIN_DIR;
        fivo_registry_load_file(reg, (dir + "/" + name + ".so").c_str(), &err);
        fivo_registry_load_file(reg, (dir + "/multinomial.so").c_str(), &err);
        cfg = fivo_config_new();
        for (auto &kv : opts)
            fivo_config_set(cfg, "model", kv.first.c_str(), kv.second.c_str());
        params = fivo_params_new(seed);
        have_model = fivo_model_open(reg, name, cfg, &spec, params, &model, &err) == FIVO_OK;
        if (have_model)
            have_resampler =
                fivo_resampler_open(reg, "multinomial", cfg, &resampler, &err) == FIVO_OK;
    }
    ~Loaded()
    {
        if (have_resampler)
            fivo_resampler_close(&resampler);
        if (have_model)
            fivo_model_close(&model);
        fivo_params_free(params);
        fivo_config_free(cfg);
        fivo_registry_free(reg);
    }
    std::vector<fivo_tensor *> all_params()
    {
        std::vector<fivo_tensor *> v;
        for (int i = 0; i < fivo_params_count(params); i++)
            v.push_back(fivo_params_at(params, i, nullptr));
        return v;
    }
};

// Checks d(sum_b w_b log p-hat_b)/d(every parameter value) against central
// differences (h, in float; loss formed in double). Returns the worst error.
inline gc::Result check_bound_gradient(Loaded &m, const fivo_batch &batch, int particles,
                                       fivo_criterion crit, double h, double floor)
{
    // Zero biases and a zero initial state put ReLU inputs exactly on the
    // kink at t = 0; move every parameter to a generic point first.
    std::mt19937 g(5);
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    for (fivo_tensor *t : m.all_params())
        for (size_t k = 0; k < fivo_tensor_size(t); k++)
            t->data[k] += u(g);
    fivo_ctx *ctx = fivo_ctx_new(1 << 20, 0);
    fivo_ctx_set_seed(ctx, 99, 3);
    fivo_smc_options o{particles, crit, 0.5, &m.resampler};
    gc::Checker ch(ctx, {}, m.all_params(),
                   [&](fivo_ctx *c, const std::vector<fivo_tensor *> &) {
                       fivo_smc_result res{};
                       fivo_error e{};
                       fivo_status s = fivo_smc_run(c, &m.model, &batch, &o, &res, &e);
                       EXPECT_EQ(s, FIVO_OK) << e.message;
                       return std::vector<fivo_tensor *>{res.log_phat};
                   });
    gc::Result r = ch.run(h, floor);
    EXPECT_EQ(ch.status, FIVO_OK);
    fivo_ctx_free(ctx);
    return r;
}

} // namespace mh
