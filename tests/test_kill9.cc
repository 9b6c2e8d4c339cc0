// kill -9 at several moments of a GHMM training, including three times in
// the middle of a checkpoint write (the write slowed down by the shim, the
// kill sent once its temp file exists): after every kill the newest
// checkpoint verifies and no completed step is lost beyond one checkpoint
// interval; the next run removes the dead writer's temp file and resumes;
// the resumed run's final checkpoint equals an uninterrupted run's, byte for
// byte.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fivo/internal/checkpoint.h>

#include "host_runner.h"
#include "reliability_util.h"

namespace {

using rel::has;

const long kSteps = 20000;

std::vector<std::string> train(const std::string &dir, double every_secs)
{
    return {"--mode=train", "--model=ghmm", "--bound=fivo", "--num_samples=4",
            "--random_seed=11", "--logdir=" + dir, "--max_steps=" + std::to_string(kSteps),
            "--checkpoint_every_secs=" + std::to_string(every_secs),
            "--summarize_every=1000000"};
}

bool newest_verifies(const std::string &dir, std::string *why)
{
    long step = rel::newest_step(dir);
    if (step < 0)
        return true; // killed before its first checkpoint: nothing to load
    fivo_checkpoint_meta meta;
    fivo_error err{};
    std::string path = dir + "/" + rel::ckpt_name(step);
    if (fivo_checkpoint_verify(path.c_str(), &meta, &err) != FIVO_OK) {
        *why = err.message;
        return false;
    }
    if ((long)meta.step != step) {
        *why = path + " holds step " + std::to_string(meta.step);
        return false;
    }
    return true;
}

TEST(Kill9, EveryKillLeavesALoadableCheckpointAndTheResumeIsExact)
{
    fivo_test::TempDir ref, d;
    auto t0 = std::chrono::steady_clock::now();
    rel::Run full = rel::run(train(ref.path, 1e9));
    ASSERT_EQ(full.status, 0) << full.out;
    // The kills come at fractions of an uninterrupted run's time, so on a
    // fast machine or under valgrind alike the runs (which resume and go on)
    // are killed before they can reach the end: at most 32 % of it in all.
    const double run_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::string want = rel::slurp(ref.path + "/" + rel::ckpt_name(kSteps));
    ASSERT_GT(want.size(), 100u);

    std::string out = d.path + "/../kill9_" + std::to_string(getpid()) + ".out";
    int kills = 0, during_write = 0;
    long last = -1;
    // At once, at times after the run's first checkpoint, then inside a
    // checkpoint write.
    const double fractions[] = {0, 0.02, 0.05, 0.10, 0.15, -1, -1, -1};
    for (double fraction : fractions) {
        const int delay = fraction < 0 ? -1 : (int)(fraction * run_ms) + (fraction > 0);
        rel::Options o;
        if (delay < 0) // each 64-byte piece of a checkpoint takes 3 ms
            o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", ".fivo.tmp"},
                     {"FIVO_FAULT_CHUNK", "64"}, {"FIVO_FAULT_DELAY_US", "3000"}};
        pid_t pid = rel::spawn(train(d.path, 0.02), o, out);
        ASSERT_GT(pid, 0);
        bool saw_temp = false;
        if (delay > 0) {
            // Timed from the run's first new checkpoint, so a slow build
            // (valgrind, ASan) is killed at the same point of its progress.
            for (int i = 0; i < 60000 && rel::newest_step(d.path) <= last; i++)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        } else if (delay < 0) {
            for (int i = 0; i < 20000 && !saw_temp; i++) {
                for (auto &n : rel::temps(d.path))
                    if (n.rfind("ckpt-", 0) == 0)
                        saw_temp = true;
                if (!saw_temp)
                    std::this_thread::sleep_for(std::chrono::microseconds(500));
            }
            ASSERT_TRUE(saw_temp) << "no checkpoint write seen\n" << rel::slurp(out);
        }
        kill(pid, SIGKILL);
        int st = rel::wait_status(pid);
        ASSERT_EQ(st, 128 + SIGKILL) << "the run ended before the kill; raise kSteps\n"
                                     << rel::slurp(out);
        kills++;
        if (delay < 0 && !rel::temps(d.path).empty())
            during_write++; // killed with the temp file half written
        std::string why;
        EXPECT_TRUE(newest_verifies(d.path, &why)) << "after kill " << kills << ": " << why;
        long now = rel::newest_step(d.path);
        EXPECT_GE(now, last) << "a kill lost an older checkpoint";
        last = now;
    }
    EXPECT_GE(during_write, 1) << "no kill landed inside a checkpoint write";
    EXPECT_GT(last, 0) << "no checkpoint was ever completed";

    rel::Run rest = rel::run(train(d.path, 0.02));
    ASSERT_EQ(rest.status, 0) << rest.out;
    EXPECT_TRUE(has(rest.out, "resuming from")) << rest.out;
    EXPECT_TRUE(rel::temps(d.path).empty()) << "stale temp files: " << rel::join(rel::temps(d.path));
    std::string got = rel::slurp(d.path + "/" + rel::ckpt_name(kSteps));
    EXPECT_TRUE(got == want) << "the resumed run's final checkpoint differs from an "
                                "uninterrupted run's";
    unlink(out.c_str());
    printf("kill -9 survived: %d (%d inside a checkpoint write), newest before resume: step %ld\n",
           kills, during_write, last);
}

} // namespace
