// Non-finite values in training, from the test model plugin "nantest"
// (tests/reliability/nan_model.c): NaN log weights, a NaN written into a
// parameter, and an infinite gradient with finite values, each at step 7.
// Training stops naming the step and the cause, writes nothing after the
// last good step, and the newest checkpoint is the last good one (it loads
// and evaluates). A checkpoint holding a non-finite parameter is refused by
// eval naming the tensor. (The NaN from an absurd learning rate on real data
// is tests/test_train_e2e.cc.)
#include <gtest/gtest.h>

#include <cmath>

#include <fivo/internal/checkpoint.h>
#include <fivo/params.h>

#include "host_runner.h"
#include "reliability_util.h"

namespace {

using rel::has;

std::vector<std::string> nantest(const std::string &mode, const std::string &dir)
{
    return {"--mode=" + mode, "--plugin_path=" + rel::kNanPlugins, "--model=nantest",
            "--dataset_type=chain", "--bound=fivo", "--logdir=" + dir,
            "--checkpoint_every_secs=0", "--summarize_every=1000",
            "--shards=1"}; // nan_step counts this process's batches: one per step
}

TEST(NanStop, StopsNamingStepAndCauseAndKeepsTheLastGoodCheckpoint)
{
    const struct {
        const char *where, *cause;
    } cases[] = {
        {"log_weights", "NaN log weight"},
        {"parameters", "parameter 'nantest/b' holds nan"},
        {"gradients", "gradient of nantest/g is not finite"},
    };
    for (auto &c : cases) {
        fivo_test::TempDir d;
        auto args = nantest("train", d.path);
        args.insert(args.end(), {"--max_steps=50", "--set", "model.nan_step=7", "--set",
                                 std::string("model.nan_in=") + c.where});
        rel::Run r = rel::run(args);
        EXPECT_EQ(r.status, 1) << c.where << "\n" << r.out;
        EXPECT_TRUE(has(r.out, "train step 7")) << c.where << "\n" << r.out;
        EXPECT_TRUE(has(r.out, c.cause)) << c.where << "\n" << r.out;
        EXPECT_TRUE(has(r.out, "last good checkpoint")) << c.where << "\n" << r.out;
        // Seven good steps, a checkpoint after each: ckpt-7 is the newest.
        EXPECT_EQ(rel::newest_step(d.path), 7) << c.where << ": " << rel::join(rel::list_dir(d.path));
        fivo_checkpoint_meta meta;
        fivo_error err{};
        std::string newest = d.path + "/" + rel::ckpt_name(7);
        EXPECT_EQ(fivo_checkpoint_verify(newest.c_str(), &meta, &err), FIVO_OK) << err.message;
        // Evaluated elsewhere, without the run's nan_step (its logdir's
        // config.ini would hand that to eval too).
        fivo_test::TempDir e;
        auto eargs = nantest("eval", e.path);
        eargs.push_back("--checkpoint=" + newest);
        rel::Run ev = rel::run(eargs);
        EXPECT_EQ(ev.status, 0) << c.where << "\n" << ev.out;
        EXPECT_TRUE(has(ev.out, rel::ckpt_name(7))) << ev.out;
    }
}

TEST(NanStop, EvalRefusesACheckpointWithANonFiniteParameter)
{
    fivo_test::TempDir d;
    fivo_params *p = fivo_params_new(1);
    fivo_tensor *b = fivo_params_add(p, "nantest/b", 1, 1, FIVO_INIT_ZEROS, nullptr);
    ASSERT_NE(fivo_params_add(p, "nantest/g", 1, 1, FIVO_INIT_ZEROS, nullptr), nullptr);
    b->data[0] = INFINITY;
    fivo_checkpoint_meta meta = {3, 0, 0, NAN, 0};
    fivo_error err{};
    std::string path = d.path + "/" + rel::ckpt_name(3);
    ASSERT_EQ(fivo_checkpoint_save(path.c_str(), p, nullptr, &meta, &err), FIVO_OK)
        << err.message;
    fivo_params_free(p);
    for (bool named : {true, false}) {
        auto args = nantest("eval", d.path);
        if (named)
            args.push_back("--checkpoint=" + path);
        rel::Run r = rel::run(args);
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_TRUE(has(r.out, "'nantest/b' holds a non-finite value")) << r.out;
        EXPECT_TRUE(has(r.out, path)) << r.out;
    }
}

} // namespace
