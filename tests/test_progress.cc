// The one-line progress display, seen through a pseudo-terminal (forkpty):
// train shows step/max_steps, steps/s, ETA and the bound; eval and sample
// show done/total; redraws stay within 4 a second; and with stderr not a
// terminal nothing of it appears.
#include <gtest/gtest.h>

#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "host_runner.h"
#include "test_data.h"

namespace {

struct PtyRun {
    int status = -1;
    std::string out;
    double secs = 0;
};

PtyRun run_pty(const std::vector<std::string> &args)
{
    std::vector<std::string> store = {FIVO_TEST_HOST};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &s : store)
        argv.push_back(const_cast<char *>(s.c_str()));
    argv.push_back(nullptr);
    struct winsize ws = {};
    ws.ws_row = 24;
    ws.ws_col = 200;
    int master = -1;
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    PtyRun r;
    if (pid < 0)
        return r;
    if (pid == 0) {
        unsetenv("FIVO_PLUGIN_PATH");
        execv(argv[0], argv.data());
        _exit(127);
    }
    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n > 0)
            r.out.append(buf, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO once the child has closed the terminal */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    close(master);
    r.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

size_t count(const std::string &hay, const std::string &needle)
{
    size_t n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
        n++;
    return n;
}

} // namespace

TEST(Progress, TrainShowsStepRateEtaAndBoundOnATerminal)
{
    fivo_test::TempDir tmp;
    PtyRun r = run_pty({"--model=ghmm", "--max_steps=20000", "--summarize_every=10000",
                        "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "\rtrain ")) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "/20000 steps (")) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, " steps/s, ETA ")) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "fivo bound/t ")) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "\033[K")) << r.out;
    // at most 4 redraws a second, plus the first, the last and one after
    // each of the 2 report lines (a report erases the line; it is redrawn
    // at the next update, whenever that comes)
    size_t draws = count(r.out, "\rtrain ");
    std::printf("%zu redraws in %.2f s\n", draws, r.secs);
    EXPECT_LE((double)draws, 4.0 * r.secs + 2.0 + 2.0);
    // report lines start on a clean line: the progress is erased before them
    EXPECT_TRUE(fivo_test::has(r.out, "\r\033[KStep 10000")) << r.out;
}

TEST(Progress, EvalAndSampleShowDoneOfTotal)
{
    fivo_test::TempDir tmp;
    PtyRun r = run_pty({"--mode=eval", "--model=ghmm", "--bound=elbo",
                        "--proposal_type=true-smoothing", "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "\reval 256/256 seq (100%)")) << r.out;
    const std::string data = FIVO_TEST_TINY_PIANOROLL;
    std::vector<std::string> common = {"--dataset_path=" + data, "--logdir=" + tmp.path,
                                       "--latent_size=8", "--batch_size=2", "--num_samples=2"};
    std::vector<std::string> train = common;
    train.insert(train.end(), {"--max_steps=1", "--summarize_every=1"});
    ASSERT_EQ(fivo_test::run(train).status, 0);
    std::vector<std::string> sample = common;
    sample.insert(sample.end(), {"--mode=sample", "--prefix_length=2", "--sample_length=5"});
    r = run_pty(sample);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(fivo_test::has(r.out, "\rsample 0/5 steps (0%)")) << r.out;
}

TEST(Progress, NothingWhenStderrIsNotATerminal)
{
    fivo_test::TempDir tmp;
    fivo_test::Result r = fivo_test::run({"--model=ghmm", "--max_steps=3000",
                                          "--summarize_every=1000", "--eval_every=3000",
                                          "--logdir=" + tmp.path});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fivo_test::has(r.err, "\r")) << r.err;
    EXPECT_FALSE(fivo_test::has(r.err, "ETA")) << r.err;
    EXPECT_FALSE(fivo_test::has(r.out, "\r")) << r.out;
}
