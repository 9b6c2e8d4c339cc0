// Absurd sizes are refused up front (exit 2, within seconds) with the
// memory they would need, instead of an out-of-memory kill later; ordinary
// sizes pass the same check.
#include <gtest/gtest.h>

#include <chrono>

#include "host_runner.h"
#include "reliability_util.h"
#include "test_data.h"

namespace {

using rel::has;

TEST(SizeLimits, AbsurdSizesAreRefusedWithTheMemoryTheyNeed)
{
    fivo_test::TempDir d;
    const struct {
        std::string flag, named;
    } cases[] = {
        {"--latent_size=1000000", "latent_size 1000000"},
        {"--batch_size=100000000", "batch_size 100000000"},
        {"--num_samples=10000000", "num_samples 10000000"},
    };
    for (auto &c : cases) {
        auto t0 = std::chrono::steady_clock::now();
        rel::Run r = rel::run({"--mode=train", "--model=vrnn", "--logdir=" + d.path,
                               "--dataset_path=" FIVO_TEST_TINY_PIANOROLL,
                               c.flag});
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_EQ(r.status, 2) << c.flag << "\n" << r.out;
        EXPECT_TRUE(has(r.out, c.named)) << r.out;
        EXPECT_TRUE(has(r.out, "would need at least")) << r.out;
        EXPECT_TRUE(has(r.out, "of memory here")) << r.out;
        EXPECT_LT(secs, 20.0) << c.flag;
        EXPECT_FALSE(rel::exists(d.path + "/metrics.jsonl")) << "it started before refusing";
    }
    // Rows beyond what a tensor can index.
    rel::Run rows = rel::run({"--mode=eval", "--model=ghmm", "--logdir=" + d.path,
                              "--batch_size=100000", "--num_samples=100000"});
    EXPECT_EQ(rows.status, 2) << rows.out;
    EXPECT_TRUE(has(rows.out, "rows")) << rows.out;
}

TEST(SizeLimits, OrdinarySizesPass)
{
    fivo_test::TempDir d;
    rel::Run g = rel::run({"--mode=train", "--model=ghmm", "--logdir=" + d.path,
                           "--max_steps=3", "--batch_size=64", "--num_samples=64"});
    EXPECT_EQ(g.status, 0) << g.out;
    fivo_test::TempDir v;
    rel::Run r = rel::run({"--mode=train", "--model=vrnn", "--logdir=" + v.path,
                           "--dataset_path=" FIVO_TEST_TINY_PIANOROLL,
                           "--max_steps=1", "--latent_size=64", "--num_samples=16"});
    EXPECT_EQ(r.status, 0) << r.out;
}

} // namespace
