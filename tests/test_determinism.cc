// Determinism through the fivo executable: the same seed gives bit-identical
// checkpoints, eval metric values and samples.npz whatever the thread count
// (--threads 1, 2, 3) and whatever OPENBLAS_NUM_THREADS says (1, 2), and a
// different seed gives different ones (so the comparison can fail). Covers
// the VRNN and SRNN with FIVO on the tiny pianoroll fixture (tests/fixtures), at a
// latent size large enough for the products to run on the thread pool; and
// with [fivo] shards, whose shards then run on the threads.
#include <gtest/gtest.h>
#include "test_data.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const std::string kData = FIVO_TEST_TINY_PIANOROLL;
const int kSteps = 12;

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Trains kSteps steps in a fresh logdir, evaluates and samples from the
// result; returns the final checkpoint's bytes, the eval line without its
// clock fields and samples.npz's bytes.
std::string run(const std::string &model, int threads, int blas_threads, int seed,
                const std::string &extra = "")
{
    char tmpl[] = "/tmp/fivo_det_XXXXXX";
    const char *dir = mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    std::string logdir = dir ? dir : "/tmp";
    std::string common = " --model=" + model + " --bound=fivo " + extra + " --dataset_path=" + kData +
                         " --logdir=" + logdir + " --latent_size=96 --batch_size=4 --num_samples=4" +
                         " --random_seed=" + std::to_string(seed) +
                         " --threads=" + std::to_string(threads);
    std::string env = "OPENBLAS_NUM_THREADS=" + std::to_string(blas_threads) + " ";
    std::string host = std::string(FIVO_TEST_HOST);
    std::string cmds[] = {
        env + host + " --mode=train" + common + " --learning_rate=0.003 --max_steps=" +
            std::to_string(kSteps) + " --summarize_every=100 >" + logdir + "/out.txt 2>&1",
        env + host + " --mode=eval" + common + " --split=train >" + logdir + "/eval.txt 2>" + logdir +
            "/out.txt",
        env + host + " --mode=sample" + common + " --split=train --prefix_length=3 --sample_length=4 >" +
            logdir + "/out.txt 2>&1"};
    for (const std::string &cmd : cmds) {
        int st = std::system(cmd.c_str());
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
            << cmd << "\n" << slurp(logdir + "/out.txt");
    }
    char name[64];
    std::snprintf(name, sizeof name, "/ckpt-%012d.fivo", kSteps);
    std::string ckpt = slurp(logdir + name), npz = slurp(logdir + "/samples.npz");
    EXPECT_FALSE(ckpt.empty()) << "no checkpoint " << logdir << name;
    EXPECT_FALSE(npz.empty()) << "no samples.npz in " << logdir;
    // metric values only: drop clock fields ("time", "*_per_sec")
    std::string eval = std::regex_replace(
        slurp(logdir + "/eval.txt"), std::regex("\"(time|[a-z_]*_per_sec)\": *[-+0-9.eE]+,? *"), "");
    EXPECT_NE(eval.find("ll/t"), std::string::npos) << eval;
    std::system(("rm -rf " + logdir).c_str());
    return ckpt + "\n--eval--\n" + eval + "\n--npz--\n" + npz;
}

class Determinism : public ::testing::TestWithParam<const char *> {};

TEST_P(Determinism, SameSeedSameBitsOnAnyThreadCount)
{
    std::string one = run(GetParam(), 1, 1, 7);
    ASSERT_FALSE(one.empty());
    for (int th : {2, 3})
        EXPECT_TRUE(one == run(GetParam(), th, 1, 7)) << "results differ between 1 and " << th << " threads";
    EXPECT_TRUE(one == run(GetParam(), 2, 2, 7)) << "results differ with OPENBLAS_NUM_THREADS=2";
    EXPECT_TRUE(one == run(GetParam(), 1, 2, 7)) << "results differ with OPENBLAS_NUM_THREADS=2, 1 thread";
}

// Shards on threads (each thread its own model replica): the bits of one
// thread, for the trained bound's own parameters too (fivo-aux's tilt).
TEST_P(Determinism, ShardsOnThreadsGiveTheBitsOfOneThread)
{
    for (const std::string extra : {"--shards=4", "--shards=2 --bound=fivo-aux"}) {
        std::string one = run(GetParam(), 1, 1, 7, extra);
        ASSERT_FALSE(one.empty());
        for (int th : {2, 3})
            EXPECT_TRUE(one == run(GetParam(), th, 1, 7, extra))
                << extra << ": results differ between 1 and " << th << " threads";
    }
}

TEST_P(Determinism, DifferentSeedDifferentResults)
{
    std::string a = run(GetParam(), 2, 1, 7);
    std::string b = run(GetParam(), 2, 1, 8);
    ASSERT_FALSE(a.empty());
    EXPECT_FALSE(a == b);
}

INSTANTIATE_TEST_SUITE_P(Models, Determinism, ::testing::Values("vrnn", "srnn"));

} // namespace
