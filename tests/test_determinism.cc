// Determinism through the fivo executable: the same seed gives bit-identical
// parameters whatever OpenBLAS thread count runs the sgemms, and a different
// seed gives different ones (so the comparison can fail). Covers the VRNN
// and SRNN with FIVO on ../shared/data/tiny_pianoroll.pkl, at a latent size
// large enough for OpenBLAS to consider threading.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const std::string kData = std::string(FIVO_TEST_SHARED_DATA) + "/tiny_pianoroll.pkl";
const int kSteps = 12;

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Trains kSteps steps in a fresh logdir and returns the final checkpoint's bytes.
std::string train(const std::string &model, int threads, int seed)
{
    char tmpl[] = "/tmp/fivo_det_XXXXXX";
    const char *dir = mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    std::string logdir = dir ? dir : "/tmp";
    std::string cmd = "OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " " +
                      std::string(FIVO_TEST_HOST) + " --mode=train --model=" + model +
                      " --bound=fivo --dataset_path=" + kData + " --logdir=" + logdir +
                      " --latent_size=96 --batch_size=4 --num_samples=4 --learning_rate=0.003" +
                      " --random_seed=" + std::to_string(seed) +
                      " --max_steps=" + std::to_string(kSteps) + " --summarize_every=100 >" +
                      logdir + "/out.txt 2>&1";
    int st = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
        << cmd << "\n" << slurp(logdir + "/out.txt");
    char name[64];
    std::snprintf(name, sizeof name, "/ckpt-%012d.fivo", kSteps);
    std::string bytes = slurp(logdir + name);
    EXPECT_FALSE(bytes.empty()) << "no checkpoint " << logdir << name;
    std::system(("rm -rf " + logdir).c_str());
    return bytes;
}

class Determinism : public ::testing::TestWithParam<const char *> {
  protected:
    void SetUp() override
    {
        struct stat st;
        if (stat(kData.c_str(), &st) != 0)
            GTEST_SKIP() << "shared data " << kData << " is absent (FIVO_TEST_SHARED_DATA)";
    }
};

TEST_P(Determinism, SameSeedSameParametersOnOneAndTwoThreads)
{
    std::string one = train(GetParam(), 1, 7);
    std::string two = train(GetParam(), 2, 7);
    ASSERT_FALSE(one.empty());
    EXPECT_TRUE(one == two) << "checkpoints differ between 1 and 2 OpenBLAS threads";
    std::string again = train(GetParam(), 1, 7);
    EXPECT_TRUE(one == again) << "checkpoints differ between two runs with one thread";
}

TEST_P(Determinism, DifferentSeedDifferentParameters)
{
    std::string a = train(GetParam(), 1, 7);
    std::string b = train(GetParam(), 1, 8);
    ASSERT_FALSE(a.empty());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_FALSE(a == b);
}

INSTANTIATE_TEST_SUITE_P(Models, Determinism, ::testing::Values("vrnn", "srnn"));

} // namespace
