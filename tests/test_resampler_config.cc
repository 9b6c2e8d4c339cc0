// Swapping the resampler is one line of config: the same training run with
// only `[resampler] plugin = <name>` differing, for every bundled resampler;
// the metrics log of each run names the resampler used, and the runs differ
// (the scheme really changed, not just the label).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "sdk_test_util.h"

namespace {

using sdk_test::Quote;

const char *const kResamplers[] = {"multinomial", "systematic", "stratified", "residual", "relaxed"};

std::string Config(const std::string &logdir, const std::string &resampler)
{
    // Everything but the resampler line is identical across runs.
    return "[fivo]\n"
           "logdir = " + logdir + "\n"
           "batch_size = 4\n"
           "num_samples = 4\n"
           "random_seed = 5\n"
           "[train]\n"
           "learning_rate = 0.01\n"
           "max_steps = 6\n"
           "summarize_every = 2\n"
           "[model]\n"
           "plugin = ghmm\n"
           "num_timesteps = 5\n"
           "variance = 0.1\n"
           "[bound]\n"
           "plugin = fivo\n"
           "resampling_criterion = always\n"
           "[dataset]\n"
           "plugin = chain\n"
           "[resampler]\n"
           "plugin = " + resampler + "\n";
}

struct TrainRun {
    int exit_code;
    std::string output;
    std::vector<std::string> train_lines;
};

TrainRun Train(const sdk_test::TempDir &tmp, const std::string &resampler)
{
    const std::string logdir = tmp.path() + "/logs-" + resampler;
    const std::string ini = tmp.path() + "/" + resampler + ".ini";
    sdk_test::WriteFile(ini, Config(logdir, resampler));
    sdk_test::RunResult r = sdk_test::Shell("cd " + Quote(tmp.path()) + " && " +
                                          Quote(FIVO_TEST_HOST) + " --config " + Quote(ini) +
                                          " --mode=train");
    TrainRun out{r.exit_code, r.output, {}};
    for (const std::string &l : sdk_test::ReadLines(logdir + "/metrics.jsonl"))
        if (sdk_test::JsonValue(l, "mode") == "train")
            out.train_lines.push_back(l);
    return out;
}

TEST(ResamplerConfig, EachBundledResamplerIsUsedWhenNamedInTheConfig)
{
    sdk_test::TempDir tmp("resampler_config");
    ASSERT_FALSE(tmp.path().empty());
    std::set<std::string> final_bounds;
    for (const char *name : kResamplers) {
        SCOPED_TRACE(name);
        TrainRun run = Train(tmp, name);
        ASSERT_EQ(run.exit_code, 0) << run.output;
        ASSERT_FALSE(run.train_lines.empty()) << run.output;
        for (const std::string &l : run.train_lines)
            EXPECT_EQ(sdk_test::JsonValue(l, "resampler"), name) << l;
        const std::string bound = sdk_test::JsonValue(run.train_lines.back(), "bound_per_t");
        ASSERT_FALSE(bound.empty()) << run.train_lines.back();
        ASSERT_NE(bound, "null") << run.train_lines.back();
        final_bounds.insert(bound);
    }
    // Resampling at every step with different schemes gives different
    // particles, so (all but by coincidence) different bounds.
    EXPECT_GE(final_bounds.size(), 4u);
}

TEST(ResamplerConfig, SameResamplerTwiceGivesTheSameRun)
{
    sdk_test::TempDir a("resampler_repeat_a"), b("resampler_repeat_b");
    TrainRun ra = Train(a, "systematic"), rb = Train(b, "systematic");
    ASSERT_EQ(ra.exit_code, 0) << ra.output;
    ASSERT_EQ(rb.exit_code, 0) << rb.output;
    ASSERT_FALSE(ra.train_lines.empty());
    ASSERT_EQ(ra.train_lines.size(), rb.train_lines.size());
    EXPECT_EQ(sdk_test::JsonValue(ra.train_lines.back(), "bound_per_t"),
              sdk_test::JsonValue(rb.train_lines.back(), "bound_per_t"));
}

TEST(ResamplerConfig, UnknownResamplerIsAnErrorNamingIt)
{
    sdk_test::TempDir tmp("resampler_unknown");
    TrainRun run = Train(tmp, "no_such_resampler");
    EXPECT_NE(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("no_such_resampler"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("systematic"), std::string::npos)
        << "the error should list the available resamplers: " << run.output;
}

} // namespace
