// [train] decay_steps (--decay_steps): the rate halves every N updates,
// exponentially (the reference's experimental trainer: exponential_decay,
// rate 0.5, staircase=False); a resumed run with decay ends bit-identical to
// an uninterrupted one; a negative value is refused naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fivo/internal/optim.h>

#include "host_runner.h"

namespace {

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string ckpt(const std::string &dir, int step)
{
    char name[64];
    snprintf(name, sizeof name, "/ckpt-%012d.fivo", step);
    return dir + name;
}

std::vector<std::string> ghmm(const std::string &dir, int steps, const std::string &decay)
{
    std::vector<std::string> a = {"--model=ghmm", "--bound=fivo", "--learning_rate=0.01",
                                  "--random_seed=5", "--summarize_every=10",
                                  "--max_steps=" + std::to_string(steps), "--logdir=" + dir};
    if (!decay.empty())
        a.push_back("--decay_steps=" + decay);
    return a;
}

} // namespace

TEST(LrDecay, HalvesEveryDecayStepsSmoothly)
{
    const double lr = 3e-4;
    EXPECT_EQ(fivo_lr_decay(lr, 1000, 0), lr);
    EXPECT_DOUBLE_EQ(fivo_lr_decay(lr, 1000, 1000), lr / 2);
    EXPECT_DOUBLE_EQ(fivo_lr_decay(lr, 1000, 2000), lr / 4);
    // Not a staircase: half way to N the rate is lr / sqrt(2), not lr.
    EXPECT_DOUBLE_EQ(fivo_lr_decay(lr, 1000, 500), lr / std::sqrt(2.0));
    EXPECT_DOUBLE_EQ(fivo_lr_decay(lr, 25000, 100000), lr / 16);
    EXPECT_EQ(fivo_lr_decay(lr, 0, 123456), lr); // 0: off
}

TEST(LrDecay, ResumedRunIsBitIdenticalToUninterrupted)
{
    fivo_test::TempDir a, b, c;
    fivo_test::Result ra = fivo_test::run(ghmm(a.path, 40, "10"));
    ASSERT_EQ(ra.status, 0) << ra.err;
    fivo_test::Result rb = fivo_test::run(ghmm(b.path, 17, "10"));
    ASSERT_EQ(rb.status, 0) << rb.err;
    ASSERT_TRUE(std::filesystem::exists(ckpt(b.path, 17)));
    rb = fivo_test::run(ghmm(b.path, 40, "10"));
    ASSERT_EQ(rb.status, 0) << rb.err;
    EXPECT_TRUE(fivo_test::has(rb.err, "resuming from")) << rb.err;
    std::string fa = slurp(ckpt(a.path, 40)), fb = slurp(ckpt(b.path, 40));
    ASSERT_GT(fa.size(), 100u);
    EXPECT_TRUE(fa == fb) << "decayed training resumed at step 17 differs from uninterrupted";
    // And the decay did something: without it the parameters differ.
    fivo_test::Result rc = fivo_test::run(ghmm(c.path, 40, ""));
    ASSERT_EQ(rc.status, 0) << rc.err;
    EXPECT_FALSE(slurp(ckpt(c.path, 40)) == fa) << "decay_steps=10 changed nothing in 40 steps";
}

// A decay of 0 or below is refused naming the key (issue 22); leaving the
// key unset is how the rate stays constant.
TEST(LrDecay, ZeroAndNegativeAreRefusedNamingTheKey)
{
    for (const char *bad : {"0", "-3"}) {
        fivo_test::TempDir a;
        fivo_test::Result r = fivo_test::run(ghmm(a.path, 5, bad));
        EXPECT_EQ(r.status, 2) << bad;
        EXPECT_TRUE(fivo_test::has(r.err, "decay_steps")) << bad << ": " << r.err;
        EXPECT_FALSE(std::filesystem::exists(ckpt(a.path, 5))) << bad;
        EXPECT_FALSE(std::filesystem::exists(a.path + "/config.ini")) << bad;
    }
}
