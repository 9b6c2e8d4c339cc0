// Shared helpers for the SMC / resampler / GHMM tests: a registry over the
// build tree's plugins, a config from key-file text, and owned batches.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <fivo/fivo.h>
#include <fivo/weights.h>
#include <fivo/internal/registry.h>
}

namespace fivo_test {

struct Registry {
    fivo_registry *reg = nullptr;
    Registry()
    {
        reg = fivo_registry_new();
        fivo_error err{};
        EXPECT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_PLUGIN_DIR, &err), FIVO_OK) << err.message;
    }
    ~Registry() { fivo_registry_free(reg); }
    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;
};

struct Config {
    fivo_config *cfg = nullptr;
    explicit Config(const std::string &text = "")
    {
        cfg = fivo_config_new();
        fivo_error err{};
        if (!text.empty()) {
            EXPECT_EQ(fivo_config_load_data(cfg, text.c_str(), "test", false, &err), FIVO_OK)
                << err.message;
        }
    }
    ~Config() { fivo_config_free(cfg); }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
};

// A padded, time-major batch of 1-D sequences that owns its memory.
struct Batch {
    int T = 0, B = 0, D = 1;
    std::vector<float> inputs, targets;
    std::vector<int32_t> lengths, ids;
    fivo_batch b{};

    Batch(const std::vector<std::vector<float>> &seqs, const std::vector<int32_t> &seq_ids = {})
    {
        B = (int)seqs.size();
        for (const auto &s : seqs)
            T = std::max(T, (int)s.size());
        inputs.assign((size_t)T * B, 0.0f);
        targets.assign((size_t)T * B, 0.0f);
        for (int i = 0; i < B; i++) {
            lengths.push_back((int32_t)seqs[i].size());
            for (size_t t = 0; t < seqs[i].size(); t++) {
                targets[t * B + i] = seqs[i][t];
                if (t + 1 < seqs[i].size())
                    inputs[(t + 1) * B + i] = seqs[i][t];
            }
        }
        ids = seq_ids;
        b.max_len = T;
        b.batch_size = B;
        b.dim = 1;
        b.inputs = inputs.data();
        b.targets = targets.data();
        b.lengths = lengths.data();
        b.seq_ids = ids.empty() ? nullptr : ids.data();
    }
};

// The model, bound and resampler instances of one configuration.
struct GhmmRun {
    Registry &r;
    Config config;
    fivo_params *params = nullptr;
    fivo_model model{};
    fivo_bound bound{};
    fivo_resampler resampler{};
    bool has_resampler = false;

    GhmmRun(Registry &reg, const std::string &cfg_text, const char *bound_name,
          const char *resampler_name, int num_timesteps)
        : r(reg), config(cfg_text)
    {
        fivo_error err{};
        params = fivo_params_new(7);
        fivo_data_spec spec{1, "real", nullptr, num_timesteps, sizeof(fivo_data_spec)};
        EXPECT_EQ(fivo_model_open(r.reg, "ghmm", config.cfg, &spec, params, &model, &err), FIVO_OK)
            << err.message;
        EXPECT_EQ(fivo_bound_open(r.reg, bound_name, config.cfg, &bound, &err), FIVO_OK)
            << err.message;
        if (resampler_name != nullptr) {
            EXPECT_EQ(fivo_resampler_open(r.reg, resampler_name, config.cfg, &resampler, &err),
                      FIVO_OK)
                << err.message;
            has_resampler = true;
        }
    }
    ~GhmmRun()
    {
        if (has_resampler)
            fivo_resampler_close(&resampler);
        fivo_bound_close(&bound);
        fivo_model_close(&model);
        fivo_params_free(params);
    }

    // Runs the bound; returns per-sequence log p-hat (empty on error).
    std::vector<double> run(fivo_ctx *ctx, const fivo_batch &batch, int N, uint64_t seed,
                            uint64_t step, fivo_smc_result *res_out = nullptr,
                            fivo_status *status = nullptr, fivo_error *err_out = nullptr)
    {
        fivo_ctx_reset(ctx);
        fivo_ctx_set_seed(ctx, seed, step);
        fivo_smc_result res{};
        fivo_error err{};
        fivo_status st = bound.vt->compute(bound.self, ctx, &model,
                                           has_resampler ? &resampler : nullptr, &batch, N, &res,
                                           &err);
        if (status != nullptr)
            *status = st;
        if (err_out != nullptr)
            *err_out = err;
        if (st != FIVO_OK)
            return {};
        if (res_out != nullptr)
            *res_out = res;
        std::vector<double> out(batch.batch_size);
        for (int b = 0; b < batch.batch_size; b++)
            out[b] = res.log_phat->data[b];
        return out;
    }

    std::vector<double> exact(const fivo_batch &batch)
    {
        std::vector<double> ll(batch.batch_size);
        fivo_error err{};
        EXPECT_EQ(model.vt->log_likelihood(model.self, &batch, ll.data(), &err), FIVO_OK)
            << err.message;
        return ll;
    }
};

// Draws a GHMM sequence of length T with the given per-step parameters
// (z_0 ~ N(0, vz_0), z_t ~ N(wz_t z_{t-1}, vz_t), x_t ~ N(wx_t z_t, vx_t)).
inline std::vector<float> sample_ghmm(const std::vector<double> &vz, const std::vector<double> &vx,
                                      const std::vector<double> &wz, const std::vector<double> &wx,
                                      int T, uint64_t seed, uint32_t row)
{
    fivo_rng r = fivo_rng_make(seed, FIVO_RNG_USER, 1);
    std::vector<float> eps(2 * T);
    fivo_rng_normal(&r, row, eps.data(), 2 * T);
    std::vector<float> x(T);
    double z = 0.0;
    for (int t = 0; t < T; t++) {
        z = (t > 0 ? wz[t] * z : 0.0) + std::sqrt(vz[t]) * eps[2 * t];
        x[t] = (float)(wx[t] * z + std::sqrt(vx[t]) * eps[2 * t + 1]);
    }
    return x;
}

} // namespace fivo_test
