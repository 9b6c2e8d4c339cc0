// Every write path under injected faults: the LD_PRELOAD shim
// (tests/reliability/fault_write.c) fails the Nth write() of one file, swept
// over every N of one checkpoint write, with ENOSPC, EIO and EFBIG; fsync
// failures; a read-only folder (file creation fails with EROFS); and a real
// file-size limit (ulimit -f, SIGXFSZ ignored by the host). Each must exit 1
// with a message naming the file and the step, leave no temp file, and
// leave the previous good file byte-identical (and loadable).
#include <gtest/gtest.h>

#include "host_runner.h"
#include "reliability_util.h"
#include "test_data.h"

namespace {

using rel::has;

std::vector<std::string> ghmm(const std::string &dir, long steps)
{
    return {"--mode=train", "--model=ghmm", "--bound=fivo", "--num_samples=4",
            "--random_seed=5", "--logdir=" + dir, "--max_steps=" + std::to_string(steps),
            "--checkpoint_every_secs=100000", "--summarize_every=100000"};
}

// A logdir holding ckpt-10 (and its metrics line), made once and copied.
struct Base {
    fivo_test::TempDir dir;
    std::string ckpt10, metrics;
    Base()
    {
        rel::Run r = rel::run(ghmm(dir.path, 10));
        EXPECT_EQ(r.status, 0) << r.out;
        ckpt10 = rel::slurp(dir.path + "/" + rel::ckpt_name(10));
        metrics = rel::slurp(dir.path + "/metrics.jsonl");
    }
    void copy_to(const std::string &d) const
    {
        std::ofstream(d + "/" + rel::ckpt_name(10), std::ios::binary) << ckpt10;
        std::ofstream(d + "/metrics.jsonl", std::ios::binary) << metrics;
    }
};

const Base &base()
{
    static Base *b = new Base();
    return *b;
}

// The state a failed write must leave: exit 1, the file and step named, no
// temp file, ckpt-10 and metrics.jsonl as they were.
void expect_clean_failure(const rel::Run &r, const std::string &dir, const std::string &file,
                          const std::string &step_text, const std::string &why,
                          const std::string &label, const std::string *ckpt10 = nullptr)
{
    EXPECT_EQ(r.status, 1) << label << "\n" << r.out;
    EXPECT_TRUE(has(r.out, file)) << label << ": no file name\n" << r.out;
    EXPECT_TRUE(has(r.out, step_text)) << label << ": no step\n" << r.out;
    EXPECT_TRUE(has(r.out, why)) << label << ": no reason '" << why << "'\n" << r.out;
    EXPECT_TRUE(rel::temps(dir).empty()) << label << ": " << rel::join(rel::temps(dir));
    EXPECT_TRUE(rel::slurp(dir + "/" + rel::ckpt_name(10)) == (ckpt10 != nullptr ? *ckpt10 : base().ckpt10))
        << label;
}

TEST(WriteFaults, EveryWriteOfACheckpointFailsCleanly)
{
    ASSERT_GT(base().ckpt10.size(), 100u);
    const std::string target = rel::ckpt_name(20);
    // How many write() calls one checkpoint takes in 128-byte pieces.
    long total = 0;
    {
        fivo_test::TempDir d;
        base().copy_to(d.path);
        rel::Options o;
        std::string report = d.path + "/../fault_count_" + std::to_string(getpid());
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", target},
                 {"FIVO_FAULT_CHUNK", "128"}, {"FIVO_FAULT_REPORT", report}};
        rel::Run r = rel::run(ghmm(d.path, 20), o);
        ASSERT_EQ(r.status, 0) << r.out;
        total = std::atol(rel::slurp(report).c_str());
        unlink(report.c_str());
        // The short writes still give the same file as an unhindered run.
        EXPECT_EQ(rel::slurp(d.path + "/" + target).size(), base().ckpt10.size());
    }
    ASSERT_GE(total, 10) << "the shim saw too few writes of " << target;
    int faults = 0;
    const struct {
        const char *name, *text;
    } errs[] = {{"ENOSPC", "No space left on device"},
                {"EIO", "Input/output error"},
                {"EFBIG", "File too large"}};
    for (auto &e : errs)
        for (long n = 1; n <= total; n++) {
            fivo_test::TempDir d;
            base().copy_to(d.path);
            rel::Options o;
            o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", target},
                     {"FIVO_FAULT_CHUNK", "128"}, {"FIVO_FAULT_AT", std::to_string(n)},
                     {"FIVO_FAULT_ERRNO", e.name}};
            if (std::string(e.name) == "ENOSPC")
                o.env["FIVO_FAULT_STICKY"] = "1"; // a full disk stays full
            rel::Run r = rel::run(ghmm(d.path, 20), o);
            std::string label = std::string(e.name) + " at write " + std::to_string(n);
            expect_clean_failure(r, d.path, target, "step 20", e.text, label);
            EXPECT_FALSE(rel::exists(d.path + "/" + target)) << label;
            faults++;
            if (n == 1 || n == total) { // and the survivor resumes
                rel::Run again = rel::run(ghmm(d.path, 20));
                EXPECT_EQ(again.status, 0) << again.out;
                EXPECT_TRUE(has(again.out, "resuming from")) << again.out;
                EXPECT_TRUE(has(again.out, rel::ckpt_name(10))) << again.out;
            }
        }
    RecordProperty("faults_survived", faults);
    printf("injected write faults survived: %d (%ld writes x 3 errors)\n", faults, total);
}

TEST(WriteFaults, FsyncFailureAndReadOnlyFolder)
{
    const std::string target = rel::ckpt_name(20);
    {
        fivo_test::TempDir d;
        base().copy_to(d.path);
        rel::Options o;
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", target},
                 {"FIVO_FAULT_FSYNC", "1"}};
        rel::Run r = rel::run(ghmm(d.path, 20), o);
        expect_clean_failure(r, d.path, target, "step 20", "fsync failed", "fsync");
    }
    {
        // Creating the temp file fails as in a read-only folder.
        fivo_test::TempDir d;
        base().copy_to(d.path);
        rel::Options o;
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", target},
                 {"FIVO_FAULT_CREATE", "1"}};
        rel::Run r = rel::run(ghmm(d.path, 20), o);
        expect_clean_failure(r, d.path, target, "step 20", "Read-only file system", "EROFS");
    }
    if (geteuid() != 0) { // a real read-only folder (root ignores the mode bits)
        fivo_test::TempDir d;
        base().copy_to(d.path);
        ASSERT_EQ(chmod(d.path.c_str(), 0555), 0);
        rel::Run r = rel::run(ghmm(d.path, 20));
        chmod(d.path.c_str(), 0755);
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_TRUE(has(r.out, d.path)) << r.out;
        EXPECT_TRUE(rel::slurp(d.path + "/" + rel::ckpt_name(10)) == base().ckpt10);
    }
}

TEST(WriteFaults, FileSizeLimitIsAnErrorNotASignal)
{
    // ulimit -f below one checkpoint: without SIG_IGN the kernel would kill
    // the host with SIGXFSZ and leave the temp file behind. The limit sits
    // half way between config.ini (written first; it grows with the host's
    // rows) and a checkpoint, which 40 GHMM steps make 8x larger than it.
    fivo_test::TempDir d;
    auto args = [&](int steps) {
        std::vector<std::string> a = ghmm(d.path, steps);
        a.push_back("--num_timesteps=40");
        return a;
    };
    rel::Run r0 = rel::run(args(10));
    ASSERT_EQ(r0.status, 0) << r0.out;
    const std::string ckpt10 = rel::slurp(d.path + "/" + rel::ckpt_name(10));
    const long config = (long)rel::slurp(d.path + "/config.ini").size();
    ASSERT_LT(2 * config, (long)ckpt10.size());
    rel::Options o;
    o.fsize_limit = (config + (long)ckpt10.size()) / 2;
    rel::Run r = rel::run(args(20), o);
    EXPECT_NE(r.status, 128 + SIGXFSZ) << "killed by SIGXFSZ";
    expect_clean_failure(r, d.path, rel::ckpt_name(20), "step 20", "File too large", "ulimit -f", &ckpt10);
}

TEST(WriteFaults, MetricsLineIsNeverTorn)
{
    // The train report at step 20 fails half way through its line: the
    // log keeps exactly its earlier lines and the run exits 1 naming it.
    for (const char *at : {"1", "3"}) {
        fivo_test::TempDir d;
        base().copy_to(d.path);
        rel::Options o;
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", "metrics.jsonl"},
                 {"FIVO_FAULT_CHUNK", "16"}, {"FIVO_FAULT_AT", at},
                 {"FIVO_FAULT_ERRNO", "ENOSPC"}, {"FIVO_FAULT_STICKY", "1"}};
        rel::Run r = rel::run(ghmm(d.path, 20), o);
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_TRUE(has(r.out, "metrics.jsonl")) << r.out;
        EXPECT_TRUE(has(r.out, "step 20")) << r.out;
        EXPECT_TRUE(has(r.out, "No space left on device")) << r.out;
        EXPECT_EQ(rel::slurp(d.path + "/metrics.jsonl"), base().metrics) << "at write " << at;
    }
}

TEST(WriteFaults, BestCheckpointAndSamples)
{
    {
        // best.fivo is written at the first evaluation (step 10).
        fivo_test::TempDir d;
        rel::Options o;
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", "best.fivo"},
                 {"FIVO_FAULT_CHUNK", "64"}, {"FIVO_FAULT_AT", "2"},
                 {"FIVO_FAULT_ERRNO", "EIO"}};
        auto args = ghmm(d.path, 10);
        args.push_back("--eval_every=10");
        rel::Run r = rel::run(args, o);
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_TRUE(has(r.out, "best.fivo")) << r.out;
        EXPECT_TRUE(has(r.out, "step 10")) << r.out;
        EXPECT_TRUE(has(r.out, "Input/output error")) << r.out;
        EXPECT_TRUE(rel::temps(d.path).empty()) << rel::join(rel::temps(d.path));
        EXPECT_FALSE(rel::exists(d.path + "/best.fivo"));
    }
    {
        // samples.npz (a VRNN on the tiny pianoroll: the GHMM cannot
        // sample): a good one first, then a failing rewrite keeps it.
        fivo_test::TempDir d;
        std::vector<std::string> args = {"--model=vrnn", "--latent_size=4", "--logdir=" + d.path,
                                         "--dataset_path=" FIVO_TEST_TINY_PIANOROLL, "--max_steps=10"};
        auto tr = args;
        tr.push_back("--mode=train");
        ASSERT_EQ(rel::run(tr).status, 0);
        args.insert(args.end(), {"--mode=sample", "--prefix_length=2", "--sample_length=3"});
        rel::Run good = rel::run(args);
        ASSERT_EQ(good.status, 0) << good.out;
        std::string before = rel::slurp(d.path + "/samples.npz");
        ASSERT_GT(before.size(), 100u);
        rel::Options o;
        o.env = {{"LD_PRELOAD", rel::kShim}, {"FIVO_FAULT_MATCH", "samples.npz"},
                 {"FIVO_FAULT_CHUNK", "64"}, {"FIVO_FAULT_AT", "2"},
                 {"FIVO_FAULT_ERRNO", "ENOSPC"}, {"FIVO_FAULT_STICKY", "1"}};
        rel::Run r = rel::run(args, o);
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_TRUE(has(r.out, "samples.npz")) << r.out;
        EXPECT_TRUE(has(r.out, "step 10")) << r.out; // the checkpoint it sampled from
        EXPECT_TRUE(has(r.out, "No space left on device")) << r.out;
        EXPECT_TRUE(rel::temps(d.path).empty()) << rel::join(rel::temps(d.path));
        EXPECT_TRUE(rel::slurp(d.path + "/samples.npz") == before);
    }
}

} // namespace
