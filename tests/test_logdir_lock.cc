// One writer per logdir: a second training (or a sample or convert writing
// into the folder) is refused naming the folder and the holder's pid, eval
// of a logdir being trained keeps working, and the lock of a SIGKILLed
// trainer never blocks the next run (the kernel drops a dead process's flock).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "host_runner.h"
#include "reliability_util.h"
#include "test_data.h"

namespace {

using rel::has;

std::vector<std::string> ghmm_train(const std::string &dir, long steps)
{
    return {"--mode=train", "--model=ghmm", "--bound=fivo", "--random_seed=2",
            "--logdir=" + dir, "--max_steps=" + std::to_string(steps),
            "--checkpoint_every_secs=0.05", "--summarize_every=100000"};
}

// Waits until the lock file names pid and a checkpoint exists.
bool wait_for_holder(const std::string &dir, pid_t pid)
{
    for (int i = 0; i < 1000; i++) {
        if (std::atol(rel::slurp(dir + "/.fivo.lock").c_str()) == pid &&
            rel::newest_step(dir) > 0)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

TEST(LogdirLock, SecondWriterRefusedEvalWorksStaleLockNeverBlocks)
{
    fivo_test::TempDir d, other;
    std::string out = d.path + "/../trainer_" + std::to_string(getpid()) + ".out";
    pid_t pid = rel::spawn(ghmm_train(d.path, 1000000000L), {}, out);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_for_holder(d.path, pid)) << rel::slurp(out);
    const std::string holder = "pid " + std::to_string(pid);

    rel::Run second = rel::run(ghmm_train(d.path, 10));
    EXPECT_EQ(second.status, 1) << second.out;
    EXPECT_TRUE(has(second.out, d.path)) << second.out;
    EXPECT_TRUE(has(second.out, holder)) << second.out;

    // Sampling writes samples.npz into its out_dir (default: the logdir).
    rel::Run sample = rel::run({"--mode=sample", "--model=ghmm", "--bound=fivo",
                                "--logdir=" + d.path, "--prefix_length=2", "--sample_length=2"});
    EXPECT_EQ(sample.status, 1) << sample.out;
    EXPECT_TRUE(has(sample.out, holder)) << sample.out;
    {
        // A VRNN logdir of its own, sampled into the locked folder: refused;
        // into a free folder: fine.
        fivo_test::TempDir v;
        std::vector<std::string> vrnn = {"--model=vrnn", "--latent_size=4", "--logdir=" + v.path,
                                         "--dataset_path=" FIVO_TEST_TINY_PIANOROLL};
        auto tr = vrnn;
        tr.insert(tr.end(), {"--mode=train", "--max_steps=2"});
        ASSERT_EQ(rel::run(tr).status, 0);
        auto into = vrnn;
        into.insert(into.end(), {"--mode=sample", "--prefix_length=2", "--sample_length=2",
                                 "--sample_out_dir=" + d.path});
        rel::Run locked = rel::run(into);
        EXPECT_EQ(locked.status, 1) << locked.out;
        EXPECT_TRUE(has(locked.out, holder)) << locked.out;
        into.back() = "--sample_out_dir=" + other.path;
        rel::Run elsewhere = rel::run(into);
        EXPECT_EQ(elsewhere.status, 0) << elsewhere.out;
        EXPECT_TRUE(rel::exists(other.path + "/samples.npz"));
    }

    rel::Run convert = rel::run({"--mode=convert", "--dataset_type=timit",
                                 "--raw_timit_dir=/nonexistent", "--out_dir=" + d.path});
    EXPECT_EQ(convert.status, 1) << convert.out;
    EXPECT_TRUE(has(convert.out, holder)) << convert.out;

    // A reader is not a writer: eval of the logdir being trained works.
    for (int i = 0; i < 3; i++) {
        rel::Run ev = rel::run({"--mode=eval", "--model=ghmm", "--bound=fivo",
                                "--logdir=" + d.path});
        EXPECT_EQ(ev.status, 0) << ev.out;
        EXPECT_TRUE(has(ev.out, "eval")) << ev.out;
    }

    kill(pid, SIGKILL);
    EXPECT_EQ(rel::wait_status(pid), 128 + SIGKILL);
    unlink(out.c_str());
    // The lock file stays, naming a dead pid; it must not block.
    EXPECT_TRUE(rel::exists(d.path + "/.fivo.lock"));
    long before = rel::newest_step(d.path);
    rel::Run next = rel::run(ghmm_train(d.path, before + 5));
    EXPECT_EQ(next.status, 0) << next.out;
    EXPECT_TRUE(has(next.out, "resuming from")) << next.out;
    EXPECT_EQ(rel::newest_step(d.path), before + 5);
}

} // namespace
