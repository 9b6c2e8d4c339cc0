// CRC32C and the TFRecord reader/writer (SDK fivo/tfrecord.h): known CRC
// values, the reference's tiny speech file read and rewritten byte for byte,
// and corrupt files rejected with the file, record and offset named.
#include <cstring>

#include "dataset_test_util.h"

extern "C" {
#include <fivo/tfrecord.h>
}

using fivo_test::TempDir;

TEST(Crc32c, KnownValues)
{
    EXPECT_EQ(fivo_crc32c("123456789", 9), 0xe3069283u);
    EXPECT_EQ(fivo_crc32c("", 0), 0u);
    unsigned char zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    EXPECT_EQ(fivo_crc32c(zeros, 32), 0x8a9136aau); // RFC 3720 B.4
    EXPECT_EQ(fivo_crc32c(ones, 32), 0x62a8ab43u);
    unsigned char inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    EXPECT_EQ(fivo_crc32c(inc, 32), 0x46dd794eu);
    // Extending in pieces (any split, unaligned) equals one pass.
    std::string s = "The quick brown fox jumps over the lazy dog, twice over";
    for (size_t cut = 0; cut <= s.size(); cut++)
        EXPECT_EQ(fivo_crc32c_extend(fivo_crc32c(s.data(), cut), s.data() + cut, s.size() - cut),
                  fivo_crc32c(s.data(), s.size()));
}

namespace {

std::vector<std::string> read_records(const std::string &path, fivo_status *end,
                                      fivo_error *err)
{
    std::vector<std::string> out;
    fivo_tfrecord_reader *r = nullptr;
    *end = fivo_tfrecord_reader_open(path.c_str(), &r, err);
    if (*end != FIVO_OK)
        return out;
    for (;;) {
        const uint8_t *d;
        size_t n;
        *end = fivo_tfrecord_reader_next(r, &d, &n, err);
        if (*end != FIVO_OK)
            break;
        out.emplace_back((const char *)d, n);
    }
    fivo_tfrecord_reader_close(r);
    return out;
}

// The build's copy of the reference's tiny speech file (byte for byte the
// same: tests/fixtures).
const char *kTiny = FIXTURE_TINY_SPEECH;

} // namespace

// Reads the tiny speech file (4 records, the k-th k timesteps of 2 float32
// valued 0 .. 2k-1) and writes it back: the same bytes.
static void read_and_rewrite(const std::string &path)
{
    fivo_status st;
    fivo_error err{};
    auto recs = read_records(path, &st, &err);
    ASSERT_EQ(st, FIVO_END) << err.message;
    ASSERT_EQ(recs.size(), 4u);
    for (int k = 1; k <= 4; k++) {
        const std::string &r = recs[k - 1];
        ASSERT_EQ(r.size(), (size_t)(2 * k) * 4) << k; // k timesteps of 2 float32
        for (int i = 0; i < 2 * k; i++) {
            float f;
            memcpy(&f, r.data() + 4 * i, 4);
            EXPECT_EQ(f, (float)i);
        }
    }
    TempDir dir;
    std::string out = dir / "copy.tfrecord";
    fivo_tfrecord_writer *w = nullptr;
    ASSERT_EQ(fivo_tfrecord_writer_open(out.c_str(), &w, &err), FIVO_OK) << err.message;
    EXPECT_FALSE(fivo_test::exists(out)); // only the temporary exists until commit
    for (auto &r : recs)
        ASSERT_EQ(fivo_tfrecord_writer_write(w, r.data(), r.size(), &err), FIVO_OK);
    ASSERT_EQ(fivo_tfrecord_writer_commit(w, &err), FIVO_OK) << err.message;
    EXPECT_EQ(fivo_test::read_bytes(out), fivo_test::read_bytes(path));
    EXPECT_EQ(dir.list(), std::vector<std::string>{"copy.tfrecord"});
}

TEST(TFRecord, TinySpeechReadAndRewriteSameBytes)
{
    read_and_rewrite(fivo_test::fixture(kTiny));
}

// The reference's own file (written by TensorFlow): read and rewritten to
// its bytes, which are the fixture's (so the fixture tests stand for it).
TEST(TFRecord, ReferenceTinySpeechFile)
{
    FIVO_REQUIRE_REAL_FILE(FIXTURE_TINY_SPEECH);
    const std::string real = fivo_test::real_file(FIXTURE_TINY_SPEECH);
    read_and_rewrite(real);
    EXPECT_EQ(fivo_test::read_bytes(fivo_test::fixture(kTiny)), fivo_test::read_bytes(real));
}

TEST(TFRecord, AbortLeavesNothing)
{
    TempDir dir;
    std::string out = dir / "x";
    fivo_error err{};
    fivo_tfrecord_writer *w = nullptr;
    ASSERT_EQ(fivo_tfrecord_writer_open(out.c_str(), &w, &err), FIVO_OK);
    ASSERT_EQ(fivo_tfrecord_writer_write(w, "abc", 3, &err), FIVO_OK);
    fivo_tfrecord_writer_abort(w);
    EXPECT_TRUE(dir.list().empty());
    // A folder that does not exist: a clear error naming the path.
    std::string bad = dir / "missing/sub/file";
    EXPECT_EQ(fivo_tfrecord_writer_open(bad.c_str(), &w, &err), FIVO_ERR_IO);
    EXPECT_NE(std::string(err.message).find(bad), std::string::npos) << err.message;
}

TEST(TFRecord, EmptyRecordsAndEmptyFile)
{
    TempDir dir;
    std::string out = dir / "e";
    fivo_error err{};
    fivo_tfrecord_writer *w = nullptr;
    ASSERT_EQ(fivo_tfrecord_writer_open(out.c_str(), &w, &err), FIVO_OK);
    ASSERT_EQ(fivo_tfrecord_writer_commit(w, &err), FIVO_OK);
    fivo_status st;
    EXPECT_TRUE(read_records(out, &st, &err).empty());
    EXPECT_EQ(st, FIVO_END);
    ASSERT_EQ(fivo_tfrecord_writer_open(out.c_str(), &w, &err), FIVO_OK);
    ASSERT_EQ(fivo_tfrecord_writer_write(w, "", 0, &err), FIVO_OK);
    ASSERT_EQ(fivo_tfrecord_writer_commit(w, &err), FIVO_OK);
    auto recs = read_records(out, &st, &err);
    EXPECT_EQ(st, FIVO_END);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0], "");
    EXPECT_EQ(fivo_test::read_bytes(out).size(), 16u);
}

namespace {

// Writes `bytes`, reads it, expects FIVO_ERR_FORMAT naming the file and `needles`.
void expect_corrupt(const std::string &bytes, size_t good_records,
                    std::vector<std::string> needles)
{
    TempDir dir;
    std::string p = dir / "bad.tfrecord";
    fivo_test::write_bytes(p, bytes);
    fivo_status st;
    fivo_error err{};
    auto recs = read_records(p, &st, &err);
    EXPECT_EQ(recs.size(), good_records);
    ASSERT_EQ(st, FIVO_ERR_FORMAT);
    std::string msg = err.message;
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    for (auto &n : needles)
        EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
}

} // namespace

TEST(TFRecord, CorruptFiles)
{
    const std::string good = fivo_test::read_bytes(fivo_test::fixture(kTiny));
    ASSERT_EQ(good.size(), 144u);
    // Record offsets: 0 (8 data bytes), 24 (16), 56 (24), 96 (32).
    std::string b = good;
    b[24 + 8] ^= 0x01; // length CRC of record 1
    expect_corrupt(b, 1, {"record 1", "offset 24", "length CRC"});
    b = good;
    b[56 + 12 + 5] ^= 0x40; // a data byte of record 2
    expect_corrupt(b, 2, {"record 2", "offset 56", "data CRC"});
    b = good;
    b[96 + 12 + 32] ^= 0x01; // stored data CRC of record 3
    expect_corrupt(b, 3, {"record 3", "offset 96", "data CRC"});
    expect_corrupt(good.substr(0, 140), 3, {"record 3", "offset 96", "truncated"});
    expect_corrupt(good.substr(0, 100), 3, {"record 3", "truncated header"});
    // A length that points past the end, with a valid length CRC.
    b = good.substr(0, 24);
    uint8_t head[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    uint32_t c = fivo_crc32c_mask(fivo_crc32c(head, 8));
    memcpy(head + 8, &c, 4);
    b += std::string((const char *)head, 12) + "xyz";
    expect_corrupt(b, 1, {"record 1", "truncated record"});
}
