// The SDK's linear-Gaussian example as a fixture for the expected-gradient
// checks of the resampling estimators, and the checkpoint-file helpers of
// the host tests that compare runs bit for bit.
#pragma once

#include <glib.h>

#include "smc_fixture.h"

namespace fivo_test {

// The SDK's linear-Gaussian example (tests/sdk_example/lgssm.so) on one
// 6-step sequence, its parameters moved off the data's generating values
// so that the exact gradients are not 0: the expected-gradient checks of
// the resampling estimators (stop-gradient, REINFORCE) run on it.
struct LgssmExample {
    static constexpr int T = 6;
    fivo_registry *reg = nullptr;
    Config cfg;
    fivo_params *params = nullptr;
    fivo_model model{};
    Batch batch;
    std::vector<fivo_tensor *> ps; // every parameter tensor, store order

    explicit LgssmExample(const std::string &resampler_base = "multinomial")
        : cfg("[model]\nvariance=0.1\nnum_timesteps=6\n[resampler]\nbase=" + resampler_base + "\n"),
          batch(data())
    {
        reg = fivo_registry_new();
        fivo_error err{};
        EXPECT_EQ(fivo_registry_load_file(reg, (std::string(FIVO_TEST_BINARY_DIR) + "/tests/sdk_example/lgssm.so").c_str(),
                                          &err),
                  FIVO_OK)
            << err.message;
        EXPECT_EQ(fivo_registry_scan_dir(reg, FIVO_TEST_PLUGIN_DIR, &err), FIVO_OK) << err.message;
        params = fivo_params_new(3);
        fivo_data_spec spec{1, "real", nullptr, T, sizeof(fivo_data_spec)};
        EXPECT_EQ(fivo_model_open(reg, "lgssm", cfg.cfg, &spec, params, &model, &err), FIVO_OK) << err.message;
        fivo_params_find(params, "lgssm/transition/a")->data[0] = 0.8f;
        fivo_params_find(params, "lgssm/emission/c")->data[0] = 1.2f;
        fivo_params_find(params, "lgssm/proposal/v")->data[0] = 0.2f;
        for (int i = 0; i < fivo_params_count(params); i++)
            ps.push_back(fivo_params_at(params, i, nullptr));
    }
    ~LgssmExample()
    {
        fivo_model_close(&model);
        fivo_params_free(params);
        fivo_registry_free(reg);
    }
    LgssmExample(const LgssmExample &) = delete;
    LgssmExample &operator=(const LgssmExample &) = delete;

  private:
    static std::vector<std::vector<float>> data()
    {
        std::vector<double> vz(T, 0.1), vx(T, 0.1), wz(T, 1.0), wx(T, 1.0);
        vz[0] = 0.2;
        return {sample_ghmm(vz, vx, wz, wx, T, 8, 0)};
    }
};

// A file's bytes ("" when absent): checkpoints compared bit for bit.
inline std::string slurp(const std::string &path)
{
    gchar *data = nullptr;
    gsize n = 0;
    std::string s;
    if (g_file_get_contents(path.c_str(), &data, &n, nullptr))
        s.assign(data, n);
    g_free(data);
    return s;
}

// The numbered checkpoint a training run writes after `step` steps.
inline std::string ckpt_path(const std::string &dir, long step)
{
    char name[64];
    g_snprintf(name, sizeof name, "/ckpt-%012ld.fivo", step);
    return dir + name;
}

} // namespace fivo_test
