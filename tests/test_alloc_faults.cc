// Out of memory at chosen places of a training run (the fault_alloc.so
// LD_PRELOAD shim of tests/reliability): fivo stops with a clear error and
// exit code 1, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "host_runner.h"
#include "reliability_util.h"
#include "test_data.h"

namespace {

const std::string kAllocShim = std::string(FIVO_TEST_RELIABILITY_DIR) + "/fault_alloc.so";

bool has(const std::string &s, const std::string &what) { return s.find(what) != std::string::npos; }

} // namespace

// fivo_adam_new returned NULL on out of memory and the train mode used it:
// a segfault at the first step.
TEST(AllocFaults, OptimizerOutOfMemoryIsAnError)
{
    fivo_test::TempDir d;
    // Without the fault the same run trains.
    rel::Run ok = rel::run({"--mode=train", "--model=vrnn", "--latent_size=4", "--max_steps=2",
                            "--dataset_path=" FIVO_TEST_TINY_PIANOROLL, "--logdir=" + d.path + "/M"});
    EXPECT_EQ(ok.status, 0) << ok.out;
    if (fivo_test::under_valgrind())
        GTEST_SKIP() << "the fault half: valgrind's malloc replacement comes before the "
                        "fault_alloc.so shim, so no allocation can be failed here (the Release "
                        "and ASan passes run it)";
    const std::string report = d.path + "/failed.txt";
    rel::Options o;
    o.env = {{"LD_PRELOAD", kAllocShim},
             {"FIVO_FAULT_ALLOC_IN", "fivo_adam_new"},
             {"FIVO_FAULT_ALLOC_REPORT", report}};
    rel::Run r = rel::run({"--mode=train", "--model=vrnn", "--latent_size=4", "--max_steps=2",
                           "--dataset_path=" FIVO_TEST_TINY_PIANOROLL, "--logdir=" + d.path + "/L"},
                          o);
    const std::string failed = rel::slurp(report);
    EXPECT_GE(std::atol(failed.c_str()), 1) << "the shim failed no allocation: " << failed;
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "out of memory for the optimizer")) << r.out;
    EXPECT_FALSE(rel::exists(d.path + "/L/ckpt-000000000002.fivo"));
}
