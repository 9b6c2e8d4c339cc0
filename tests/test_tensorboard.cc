// TensorBoard event files written by the host, read back by Google's protobuf
// library (tests/read_events.py): every tag, step and value of every train
// and eval report, and a file cut at any byte reads up to its last whole event.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "host_runner.h"
#include "py_runner.h"

namespace {

using fivo_test::Result;
using fivo_test::run;

std::vector<std::string> event_files(const std::string &dir)
{
    std::vector<std::string> out;
    for (auto &e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
            out.push_back(e.path().string());
    return out;
}

std::string hostname()
{
    char h[256] = {0};
    gethostname(h, sizeof h - 1);
    return h;
}

} // namespace

TEST(TensorBoard, GhmmTrainingWritesEveryTrainAndEvalScalar)
{
    fivo_test::TempDir tmp;
    Result r = run({"--model=ghmm", "--bound=fivo", "--max_steps=60", "--summarize_every=10",
                    "--eval_every=20", "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> files = event_files(tmp.path);
    ASSERT_EQ(files.size(), 1u);
    // events.out.tfevents.<unix seconds>.<hostname>
    std::string name = std::filesystem::path(files[0]).filename().string();
    std::string rest = name.substr(std::string("events.out.tfevents.").size());
    size_t dot = rest.find('.');
    ASSERT_NE(dot, std::string::npos) << name;
    long secs = std::stol(rest.substr(0, dot));
    EXPECT_GT(secs, 1600000000L);
    EXPECT_EQ(rest.substr(dot + 1), hostname());
    fivo_test::PyResult py = fivo_test::run_python(
        "read_events.py", {files[0], tmp.path + "/metrics.jsonl", tmp.path});
    FIVO_EXPECT_PY_OK(py);
    // 6 train + 3 eval reports and the file_version event
    EXPECT_TRUE(fivo_test::has(py.out, "ok 10 events")) << py.out;
}

TEST(TensorBoard, EvalModeWritesItsSplitsBounds)
{
    fivo_test::TempDir tmp;
    Result r = run({"--mode=eval", "--model=ghmm", "--bound=elbo",
                    "--proposal_type=true-smoothing", "--split=test", "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> files = event_files(tmp.path);
    ASSERT_EQ(files.size(), 1u);
    fivo_test::PyResult py = fivo_test::run_python(
        "read_events.py", {files[0], tmp.path + "/metrics.jsonl", tmp.path});
    FIVO_EXPECT_PY_OK(py);
    EXPECT_TRUE(fivo_test::has(py.out, "ok 2 events")) << py.out;
}

TEST(TensorBoard, OffWritesNoEventFile)
{
    fivo_test::TempDir tmp;
    Result r = run({"--model=ghmm", "--max_steps=10", "--summarize_every=5", "--notensorboard",
                    "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(event_files(tmp.path).empty());
    EXPECT_TRUE(std::filesystem::exists(tmp.path + "/metrics.jsonl"));
}
