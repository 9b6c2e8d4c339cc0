// Inputs found by the fuzz targets in fuzz/ that crashed or misbehaved,
// minimised and written here by the tests themselves. (The key-file
// invalid-escape GError leak found by fuzz_config is in test_config.cc.)
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/crc32.h>
#include <fivo/plugin_model.h>

#include "dataset_test_util.h"
#include "registry_check.h"

namespace {

void put_u32(std::vector<unsigned char> &b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b.push_back((unsigned char)(v >> (8 * i)));
}

void put_u64(std::vector<unsigned char> &b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

// fuzz_checkpoint: a header (valid checksums) whose record count cannot fit
// the file made the error message read the count from the freed file
// buffer (heap-use-after-free under ASan).
TEST(FuzzRegressions, CheckpointRecordCountThatDoesNotFit)
{
    std::vector<unsigned char> b = {'F', 'I', 'V', 'O', 'C', 'K', 'P', 'T'};
    put_u32(b, 1);           // version 1: a u32 flags field
    put_u32(b, 0x04000006u); // records: far more than 68 bytes hold
    put_u64(b, 7);           // step
    put_u64(b, 3);           // seed
    put_u64(b, 0);           // adam step
    put_u64(b, 0);           // best bound (0.0)
    put_u32(b, 0);           // flags
    put_u32(b, fivo_crc32_update(0, b.data(), b.size()));
    for (char c : std::string("FIVOEND!"))
        b.push_back((unsigned char)c);
    put_u32(b, fivo_crc32_update(0, b.data(), b.size()));

    char path[] = "/tmp/fivo_fuzzreg_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, b.data(), b.size()), (ssize_t)b.size());
    close(fd);
    fivo_checkpoint_meta meta;
    fivo_error err{};
    EXPECT_EQ(fivo_checkpoint_verify(path, &meta, &err), FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(err.message).find("record count 67108870 does not fit"),
              std::string::npos)
        << err.message;
    unlink(path);
}

// fuzz_pickle: MARK then DICT on an empty stack computed NULL + 0 for the
// items (undefined behaviour, reported by UBSan). The pickle is an empty
// dict, so the split is missing: a clean error, no crash.
TEST(FuzzRegressions, PickleMarkOnAnEmptyStack)
{
    const fivo_dataset_vtable *vt = fivo_test::dataset_vtable("pianoroll");
    ASSERT_NE(vt, nullptr);
    fivo_test::TempDir d;
    fivo_test::write_bytes(d / "mark.pkl", "(d.");
    void *self = nullptr;
    fivo_error err{};
    EXPECT_EQ(vt->open(nullptr, (d / "mark.pkl").c_str(), "train", &self, &err),
              FIVO_ERR_NOT_FOUND)
        << err.message;
    EXPECT_NE(std::string(err.message).find("no split 'train'"), std::string::npos)
        << err.message;
    if (self != nullptr)
        vt->close(self);
}

// fuzz_descriptor: option rows declared at a stride that is not a multiple
// of their alignment (here sizeof + 1) were read misaligned (UBSan).
TEST(FuzzRegressions, OptionRowsAtAMisalignedStrideAreRefused)
{
    static const fivo_model_vtable vt = {};
    std::vector<unsigned char> rows(2 * (sizeof(fivo_option) + 1));
    fivo_option o = {"k", FIVO_OPTION_INT, "1", "h", nullptr, nullptr, nullptr};
    for (int i = 0; i < 2; i++)
        memcpy(rows.data() + i * (sizeof(fivo_option) + 1), &o, sizeof o);
    fivo_plugin_descriptor d{};
    d.abi_major = FIVO_ABI_MAJOR;
    d.abi_minor = FIVO_ABI_MINOR;
    d.kind = FIVO_PLUGIN_MODEL;
    d.name = "m";
    d.vtable = &vt;
    d.vtable_size = sizeof vt;
    d.options = reinterpret_cast<const fivo_option *>(rows.data());
    d.num_options = 2;
    d.option_size = sizeof(fivo_option) + 1;
    char *why = fivo__registry_check_descriptor(&d);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("not a multiple of their alignment"), std::string::npos)
        << why;
    free(why);
}

} // namespace
