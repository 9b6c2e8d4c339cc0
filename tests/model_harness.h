// Shared by the model tests (seqmodel_suite.h, test_fivo_aux,
// test_deferred_grads): loads a built model plugin with the bundled
// multinomial resampler and makes a tiny random batch. The finite-difference
// check of a whole bound is the conformance kit's (seqmodel_suite.h).
#pragma once

#include <gtest/gtest.h>

#include <fivo/fivo.h>
#include <fivo/internal/registry.h>

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

} // namespace mh
