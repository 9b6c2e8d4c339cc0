// --early_stopping_patience (host, mode train): stops after K evaluations on
// the [eval] split without a better bound, keeps best.fivo, saves the step it
// stopped at; refuses a patience without evaluations; 0 keeps training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host_runner.h"

namespace {

int count_lines(const std::string &path, const std::string &needle)
{
    std::ifstream f(path);
    std::string line;
    int n = 0;
    while (std::getline(f, line))
        n += line.find(needle) != std::string::npos;
    return n;
}

} // namespace

// With a learning rate far below float resolution the parameters never
// change, so no evaluation after the first is better: patience 2 stops after
// the third evaluation (step 3 with eval_every 1), not at max_steps.
TEST(EarlyStopping, StopsAfterPatienceEvaluationsWithoutImprovement)
{
    fivo_test::TempDir tmp;
    std::string dir = tmp.path;
    fivo_test::Result r = fivo_test::run({"--model=ghmm", "--bound=fivo", "--learning_rate=1e-30",
                                          "--max_steps=50", "--eval_every=1",
                                          "--early_stopping_patience=2", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("early stopping after step 3"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(dir + "/metrics.jsonl", "\"mode\":\"eval\""), 3);
    EXPECT_TRUE(std::filesystem::exists(dir + "/best.fivo"));
    EXPECT_TRUE(std::filesystem::exists(dir + "/ckpt-000000000003.fivo"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt-000000000050.fivo"));
}

// The counter survives a resume: interrupted after one evaluation without a
// better bound (step 2), the resumed run stops at step 3 like the
// uninterrupted one above, and running it again trains nothing.
TEST(EarlyStopping, ResumedRunStopsWhereAnUninterruptedOneDoes)
{
    fivo_test::TempDir tmp;
    std::string dir = tmp.path;
    std::vector<std::string> args = {"--model=ghmm", "--bound=fivo", "--learning_rate=1e-30",
                                      "--eval_every=1", "--early_stopping_patience=2",
                                      "--logdir=" + dir};
    auto with = [&](const std::string &max) {
        std::vector<std::string> a = args;
        a.push_back("--max_steps=" + max);
        return fivo_test::run(a);
    };
    fivo_test::Result r = with("2");
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(std::filesystem::exists(dir + "/ckpt-000000000002.fivo"));
    r = with("50");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("early stopping after step 3"), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir + "/ckpt-000000000003.fivo"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt-000000000004.fivo"));
    EXPECT_EQ(count_lines(dir + "/metrics.jsonl", "\"mode\":\"eval\""), 3);
    r = with("50");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("stopped early before step 3"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(dir + "/metrics.jsonl", "\"mode\":\"eval\""), 3);
    EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt-000000000004.fivo"));
}

TEST(EarlyStopping, ZeroPatienceTrainsToMaxSteps)
{
    fivo_test::TempDir tmp;
    std::string dir = tmp.path;
    fivo_test::Result r = fivo_test::run({"--model=ghmm", "--bound=fivo", "--learning_rate=1e-30",
                                          "--max_steps=6", "--eval_every=2", "--logdir=" + dir});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("early stopping"), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir + "/ckpt-000000000006.fivo"));
}

TEST(EarlyStopping, PatienceNeedsEvaluations)
{
    fivo_test::TempDir tmp;
    fivo_test::Result r = fivo_test::run({"--model=ghmm", "--max_steps=5", "--early_stopping_patience=3",
                                          "--logdir=" + tmp.path});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("early_stopping_patience"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("eval_every"), std::string::npos) << r.err;
}
