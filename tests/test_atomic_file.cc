// The SDK's atomic file writer (fivo/atomic_file.h), which every output file
// goes through: the bytes land whole, with mode 0644 and no temp file left;
// a failure (no folder, a destination that cannot be replaced, a failed or
// short write, a failed fsync, a temp file that cannot be created) names
// the destination and the step, removes the temp file and leaves the
// previous file byte-identical; a kill -9 in the middle of a write never
// leaves a truncated destination. The injected faults come from the
// LD_PRELOAD shim (reliability/fault_write.c) in a helper process.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "host_runner.h"
#include "reliability_util.h"

extern "C" {
#include <fivo/atomic_file.h>
}

namespace {

using rel::has;

const std::string kWriter = std::string(FIVO_TEST_RELIABILITY_DIR) + "/atomic_write";

// The helper's command line and environment: `bytes` bytes of `fill` to path.
rel::Options writer(std::map<std::string, std::string> env)
{
    rel::Options o;
    o.env = std::move(env);
    o.program = kWriter;
    return o;
}

std::vector<std::string> args(const std::string &path, size_t bytes, int fill)
{
    return {path, std::to_string(bytes), std::to_string(fill)};
}

std::map<std::string, std::string> shim(std::map<std::string, std::string> extra)
{
    extra["LD_PRELOAD"] = rel::kShim;
    extra["FIVO_FAULT_MATCH"] = ".tmp";
    return extra;
}

// A destination holding `size` bytes of 'A'.
std::string old_file(const std::string &dir, size_t size)
{
    const std::string path = dir + "/out.bin";
    fivo_error err{};
    EXPECT_EQ(fivo_file_write_atomic(path.c_str(), std::string(size, 'A').data(), size, &err),
              FIVO_OK)
        << err.message;
    return path;
}

TEST(AtomicFile, WritesTheWholeFileWithMode0644AndNoTemp)
{
    fivo_test::TempDir dir;
    const std::string path = dir.path + "/a.bin", data(100000, 'x');
    fivo_error err{};
    ASSERT_EQ(fivo_file_write_atomic(path.c_str(), data.data(), data.size(), &err), FIVO_OK)
        << err.message;
    EXPECT_EQ(rel::slurp(path), data);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    EXPECT_TRUE(rel::temps(dir.path).empty()) << rel::join(rel::temps(dir.path));
    // Replacing an existing file, and an empty file.
    ASSERT_EQ(fivo_file_write_atomic(path.c_str(), "", 0, &err), FIVO_OK) << err.message;
    EXPECT_EQ(rel::slurp(path), "");
}

TEST(AtomicFile, PiecesCommitAndAbort)
{
    fivo_test::TempDir dir;
    const std::string path = old_file(dir.path, 10);
    fivo_error err{};
    fivo_atomic_file *f = nullptr;
    ASSERT_EQ(fivo_atomic_file_open(path.c_str(), &f, &err), FIVO_OK) << err.message;
    EXPECT_GE(fivo_atomic_file_fd(f), 0);
    ASSERT_EQ(fivo_atomic_file_write(f, "hello ", 6, &err), FIVO_OK);
    EXPECT_EQ(rel::slurp(path), std::string(10, 'A')) << "visible before commit";
    EXPECT_EQ(rel::temps(dir.path).size(), 1u);
    fivo_atomic_file_abort(f);
    EXPECT_EQ(rel::slurp(path), std::string(10, 'A'));
    EXPECT_TRUE(rel::temps(dir.path).empty()) << rel::join(rel::temps(dir.path));

    ASSERT_EQ(fivo_atomic_file_open(path.c_str(), &f, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_atomic_file_write(f, "hello ", 6, &err), FIVO_OK);
    ASSERT_EQ(fivo_atomic_file_write(f, "world", 5, &err), FIVO_OK);
    ASSERT_EQ(fivo_atomic_file_commit(f, &err), FIVO_OK) << err.message;
    EXPECT_EQ(rel::slurp(path), "hello world");
    fivo_atomic_file_abort(nullptr);
}

TEST(AtomicFile, TwoWritersOfOnePathUseTheirOwnTempFiles)
{
    fivo_test::TempDir dir;
    const std::string path = dir.path + "/same.bin";
    fivo_error err{};
    fivo_atomic_file *a = nullptr, *b = nullptr;
    ASSERT_EQ(fivo_atomic_file_open(path.c_str(), &a, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_atomic_file_open(path.c_str(), &b, &err), FIVO_OK) << err.message;
    EXPECT_EQ(rel::temps(dir.path).size(), 2u);
    ASSERT_EQ(fivo_atomic_file_write(a, "aaaa", 4, &err), FIVO_OK);
    ASSERT_EQ(fivo_atomic_file_write(b, "bb", 2, &err), FIVO_OK);
    ASSERT_EQ(fivo_atomic_file_commit(b, &err), FIVO_OK) << err.message;
    ASSERT_EQ(fivo_atomic_file_commit(a, &err), FIVO_OK) << err.message;
    EXPECT_EQ(rel::slurp(path), "aaaa"); // whole, never a mix
    EXPECT_TRUE(rel::temps(dir.path).empty());
}

TEST(AtomicFile, MissingFolderNamesThePath)
{
    fivo_test::TempDir dir;
    const std::string path = dir.path + "/no/such/folder/x.bin";
    fivo_error err{};
    EXPECT_EQ(fivo_file_write_atomic(path.c_str(), "x", 1, &err), FIVO_ERR_IO);
    EXPECT_TRUE(has(err.message, path)) << err.message;
    EXPECT_TRUE(has(err.message, "cannot create a temp file")) << err.message;
    EXPECT_TRUE(rel::list_dir(dir.path).empty());
}

TEST(AtomicFile, DestinationThatCannotBeReplacedKeepsItAndRemovesTheTemp)
{
    // A non-empty folder cannot be renamed over (even by root).
    fivo_test::TempDir dir;
    const std::string path = dir.path + "/taken";
    ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
    std::ofstream(path + "/inside") << "keep";
    fivo_error err{};
    EXPECT_EQ(fivo_file_write_atomic(path.c_str(), "x", 1, &err), FIVO_ERR_IO);
    EXPECT_TRUE(has(err.message, path)) << err.message;
    EXPECT_TRUE(has(err.message, "rename")) << err.message;
    EXPECT_TRUE(rel::temps(dir.path).empty()) << rel::join(rel::temps(dir.path));
    EXPECT_EQ(rel::slurp(path + "/inside"), "keep");
}

// Faults from the shim: each must exit 1 naming the file and the step, leave
// no temp file and the old file byte-identical.
TEST(AtomicFile, InjectedFaultsLeaveTheOldFile)
{
    struct Case {
        const char *label;
        std::map<std::string, std::string> env;
        const char *step;
    };
    const Case cases[] = {
        {"short writes, the 3rd fails (ENOSPC)",
         {{"FIVO_FAULT_CHUNK", "1000"}, {"FIVO_FAULT_AT", "3"}},
         "write failed: No space left on device"},
        {"short writes, the 1st fails (EIO)",
         {{"FIVO_FAULT_CHUNK", "1000"}, {"FIVO_FAULT_AT", "1"}, {"FIVO_FAULT_ERRNO", "EIO"}},
         "write failed: Input/output error"},
        {"the last write fails (EFBIG)",
         {{"FIVO_FAULT_CHUNK", "1000"}, {"FIVO_FAULT_AT", "20"}, {"FIVO_FAULT_ERRNO", "EFBIG"}},
         "write failed: File too large"},
        {"fsync fails", {{"FIVO_FAULT_FSYNC", "1"}}, "fsync failed"},
        {"read-only folder", {{"FIVO_FAULT_CREATE", "1"}}, "cannot create a temp file"},
    };
    for (const Case &c : cases) {
        fivo_test::TempDir dir;
        const std::string path = old_file(dir.path, 5000);
        rel::Run r = rel::run(args(path, 20000, 'B'), writer(shim(c.env)));
        EXPECT_EQ(r.status, 1) << c.label << "\n" << r.out;
        EXPECT_TRUE(has(r.out, path)) << c.label << ": no file name\n" << r.out;
        EXPECT_TRUE(has(r.out, c.step)) << c.label << ": no step\n" << r.out;
        EXPECT_TRUE(rel::temps(dir.path).empty())
            << c.label << ": " << rel::join(rel::temps(dir.path));
        EXPECT_EQ(rel::slurp(path), std::string(5000, 'A')) << c.label;
    }
    // Short writes alone are retried to the end.
    fivo_test::TempDir dir;
    const std::string path = old_file(dir.path, 5000);
    rel::Run r = rel::run(args(path, 20000, 'B'), writer(shim({{"FIVO_FAULT_CHUNK", "777"}})));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(rel::slurp(path), std::string(20000, 'B'));
    EXPECT_TRUE(rel::temps(dir.path).empty());
}

// kill -9 at several points of a slow write: the destination is always the
// whole old file (never a prefix of the new one, never absent).
TEST(AtomicFile, KillMidWriteNeverLeavesATruncatedFile)
{
    for (int delay_ms : {30, 120, 400}) {
        fivo_test::TempDir dir, out;
        const std::string path = old_file(dir.path, 5000);
        // 64 writes of 1000 bytes, 10 ms each: the kill lands mid-file.
        pid_t pid = rel::spawn(
            args(path, 64000, 'B'),
            writer(shim({{"FIVO_FAULT_CHUNK", "1000"}, {"FIVO_FAULT_DELAY_US", "10000"}})),
            out.path + "/log");
        usleep((useconds_t)delay_ms * 1000);
        kill(pid, SIGKILL);
        int status = rel::wait_status(pid);
        EXPECT_EQ(status, 128 + SIGKILL) << "finished before the kill at " << delay_ms << " ms";
        EXPECT_EQ(rel::slurp(path), std::string(5000, 'A')) << "killed at " << delay_ms << " ms";
        // The temp file may stay (the process had no chance to remove it);
        // it is never the destination's name.
        for (const std::string &t : rel::temps(dir.path))
            EXPECT_NE(t, "out.bin");
    }
}

} // namespace
