// Shared by the tests of bounds that wrap a model (test_fivo_aux,
// test_fivo_aux_td, test_sixo): a model plugin with a twisted bound and plain
// FIVO beside it, parameter perturbation, gradients by parameter, file reads.
#pragma once

#include "model_harness.h"

#include <fivo/fivo.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace bh {

inline fivo_data_spec spec_of(const mh::TinyBatch &tb, bool binary)
{
    fivo_data_spec s{};
    s.dim = tb.D;
    s.kind = binary ? "binary" : "real";
    s.mean = binary ? tb.mean.data() : nullptr;
    return s;
}

// Moves every parameter by U(-0.2, 0.2) (a generic point: no relu on its kink).
inline void perturb(fivo_params *p, unsigned seed = 5)
{
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    for (int i = 0; i < fivo_params_count(p); i++) {
        fivo_tensor *t = fivo_params_at(p, i, nullptr);
        for (size_t k = 0; k < fivo_tensor_size(t); k++)
            t->data[k] += u(g);
    }
}

inline bool has_prefix(const char *name, const std::string &prefix)
{
    return std::string(name).rfind(prefix, 0) == 0;
}

// Gradients of sum(out) wrt every parameter, by parameter index.
inline std::vector<std::vector<float>> grads_of(fivo_ctx *ctx, fivo_params *p, fivo_tensor *out)
{
    fivo_params_zero_grad(p);
    fivo_error err{};
    EXPECT_EQ(fivo_ctx_backward(ctx, fivo_sum_all(ctx, out), &err), FIVO_OK) << err.message;
    std::vector<std::vector<float>> g;
    for (int i = 0; i < fivo_params_count(p); i++) {
        fivo_tensor *t = fivo_params_at(p, i, nullptr);
        g.emplace_back(t->grad, t->grad + fivo_tensor_size(t));
    }
    return g;
}

inline std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Toy data (forward, long_chain): every step holds one value per sequence
// (forward reads the last step, long_chain its observation steps); all
// sequences run T steps.
struct ToyBatch {
    std::vector<float> inputs, targets;
    std::vector<int32_t> lengths;
    fivo_batch batch{};
    ToyBatch(int T, int B, unsigned seed)
    {
        std::mt19937 g(seed);
        std::normal_distribution<float> n(0, 1.5f);
        targets.resize((size_t)T * B);
        inputs.assign((size_t)T * B, 0.0f);
        for (auto &x : targets)
            x = n(g);
        for (int t = 1; t < T; t++)
            for (int b = 0; b < B; b++)
                inputs[(size_t)t * B + b] = targets[(size_t)(t - 1) * B + b];
        lengths.assign(B, T);
        batch = {T, B, 1, inputs.data(), targets.data(), lengths.data(), nullptr, sizeof(fivo_batch)};
    }
    fivo_data_spec spec() const
    {
        fivo_data_spec s{};
        s.dim = 1;
        s.kind = "real";
        s.num_timesteps = batch.max_len;
        return s;
    }
};

using Settings = std::vector<std::pair<std::string, std::string>>;

// A model with the bound `name` bound to it and plain FIVO beside it, both
// with [bound] resampling_criterion = crit (and the bound's own settings).
struct Twisted {
    mh::Loaded m;
    fivo_bound tw{}, plain{};
    bool ok = false;
    Twisted(const char *name, const char *model, const Settings &model_opts,
            const fivo_data_spec &spec, const char *crit, const Settings &bound_opts = {})
        : m(model, model_opts, spec)
    {
        EXPECT_TRUE(m.have_model && m.have_resampler) << m.err.message;
        std::string dir = FIVO_TEST_PLUGIN_DIR;
        fivo_registry_load_file(m.reg, (dir + "/" + name + ".so").c_str(), &m.err);
        fivo_registry_load_file(m.reg, (dir + "/fivo_bound.so").c_str(), &m.err);
        fivo_config_set(m.cfg, "bound", "resampling_criterion", crit);
        for (auto &kv : bound_opts)
            fivo_config_set(m.cfg, "bound", kv.first.c_str(), kv.second.c_str());
        ok = fivo_bound_open(m.reg, name, m.cfg, &tw, &m.err) == FIVO_OK &&
             fivo_bound_open(m.reg, "fivo", m.cfg, &plain, &m.err) == FIVO_OK &&
             fivo_bound_bind(&tw, &m.model, &spec, m.params, &m.err) == FIVO_OK;
        EXPECT_TRUE(ok) << m.err.message;
    }
    ~Twisted()
    {
        if (tw.vt != nullptr)
            fivo_bound_close(&tw);
        if (plain.vt != nullptr)
            fivo_bound_close(&plain);
    }
    // log p-hat of one compute (seeded), and the bound's train loss and
    // metrics when asked for.
    fivo_tensor *run(fivo_ctx *ctx, fivo_bound &b, const fivo_batch &batch, int N,
                     fivo_tensor **loss = nullptr, std::vector<fivo_bound_metric> *metrics = nullptr)
    {
        fivo_ctx_set_seed(ctx, 41, 2);
        fivo_smc_result res{};
        fivo_error err{};
        EXPECT_EQ(fivo_bound_compute(&b, ctx, &m.model, &m.resampler, &batch, N, &res, &err), FIVO_OK)
            << err.message;
        if (loss != nullptr) {
            fivo_bound_metric met[FIVO_BOUND_MAX_METRICS];
            int n = 0;
            EXPECT_EQ(fivo_bound_train_loss(&b, ctx, &batch, loss, met, &n, &err), FIVO_OK)
                << err.message;
            if (metrics != nullptr)
                metrics->assign(met, met + n);
        }
        return res.log_phat;
    }
};

} // namespace bh
