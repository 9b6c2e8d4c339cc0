// libfivo's eval pass in process (fivo/eval_loop.h) gives the numbers the
// fivo binary reports: a short GHMM run writes its config.ini and a
// checkpoint, `fivo --mode=eval` reports the fivo bound on the split, and
// the pass over the same plugins, settings and parameters gives the same.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

#include "host_runner.h"
#include "smc_fixture.h"

extern "C" {
#include <fivo/internal/checkpoint.h>
#include <fivo/eval_loop.h>
}

namespace {

// The number after "name": in the last eval line of metrics.jsonl.
double last_eval(const std::string &metrics, const std::string &name)
{
    std::ifstream f(metrics);
    std::string line, eval;
    while (std::getline(f, line))
        if (line.find("\"mode\":\"eval\"") != std::string::npos)
            eval = line;
    size_t at = eval.find("\"" + name + "\":");
    if (at == std::string::npos)
        return std::nan("");
    return std::strtod(eval.c_str() + at + name.size() + 3, nullptr);
}

} // namespace

TEST(EvalLoop, SameNumbersAsTheFivoBinary)
{
    fivo_test::TempDir tmp;
    const std::string dir = tmp.path, ini = dir + "/config.ini";
    fivo_test::Result r = fivo_test::run({"--model=ghmm", "--bound=fivo", "--max_steps=3",
                                          "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    r = fivo_test::run({"--config=" + ini, "--mode=eval", "--set", "eval.bounds=fivo",
                        "--split=train", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;

    // The run's plugins and settings, opened as the host's session does.
    fivo_test::Registry reg;
    fivo_test::Config config;
    fivo_error err{};
    ASSERT_EQ(fivo_config_load_file(config.cfg, ini.c_str(), false, &err), FIVO_OK) << err.message;
    fivo_dataset ds{};
    ASSERT_EQ(fivo_dataset_open(reg.reg, "chain", config.cfg, nullptr, "train", &ds, &err), FIVO_OK)
        << err.message;
    fivo_dataset_info info{};
    ASSERT_EQ(fivo_dataset_get_info(&ds, &info, &err), FIVO_OK) << err.message;
    fivo_data_spec spec{info.dim, info.kind, info.mean, info.max_len, sizeof(fivo_data_spec)}; // "real" data
    fivo_params *params = fivo_params_new(0);
    fivo_model model{};
    fivo_bound bound{};
    fivo_resampler resampler{};
    ASSERT_EQ(fivo_model_open(reg.reg, "ghmm", config.cfg, &spec, params, &model, &err), FIVO_OK)
        << err.message;
    ASSERT_EQ(fivo_bound_open(reg.reg, "fivo", config.cfg, &bound, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_bound_bind(&bound, &model, &spec, params, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_resampler_open(reg.reg, "multinomial", config.cfg, &resampler, &err), FIVO_OK)
        << err.message;
    fivo_checkpoint_meta meta{};
    char *used = nullptr;
    ASSERT_EQ(fivo_checkpoint_restore_latest(dir.c_str(), params, nullptr, &meta, &used, &err),
              FIVO_OK)
        << err.message;
    free(used);
    fivo_ctx *ctx = fivo_ctx_new((size_t)8 << 20, 0);
    fivo_eval_setup e = {&model, &resampler, ctx, 0, 4, 4}; // random_seed, batch, particles
    fivo_eval_stats a{};
    ASSERT_EQ(fivo_eval_pass(&e, &ds, &bound, &a, &err), FIVO_OK) << err.message;

    const std::string metrics = dir + "/metrics.jsonl";
    EXPECT_DOUBLE_EQ(fivo_eval_stats_ll_per_t(&a), last_eval(metrics, "fivo_ll_per_t"));
    EXPECT_DOUBLE_EQ(fivo_eval_stats_ll_per_seq(&a), last_eval(metrics, "fivo_ll_per_seq"));
    EXPECT_DOUBLE_EQ(fivo_eval_stats_resample_rate(&a), last_eval(metrics, "fivo_resample_rate"));
    EXPECT_DOUBLE_EQ(fivo_eval_stats_log_weight_var(&a),
                     last_eval(metrics, "fivo_log_weight_var"));
    ASSERT_TRUE(a.exact);
    EXPECT_DOUBLE_EQ(a.ll_sum / (double)a.nseq, last_eval(metrics, "true_ll_per_t"));
    EXPECT_EQ((double)a.nseq, last_eval(metrics, "num_sequences"));

    fivo_ctx_free(ctx);
    fivo_resampler_close(&resampler);
    fivo_bound_close(&bound);
    fivo_model_close(&model);
    fivo_params_free(params);
    fivo_dataset_close(&ds);
}
