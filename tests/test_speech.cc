// The speech dataset on the reference's tiny TFRecord file (4 utterances of
// 1..4 timesteps at 2 samples per timestep holding 0..2k-1): lengths,
// padding, the one-step shift, paths, and bad record sizes.
#include <cstring>
#include <set>

#include "dataset_test_util.h"

extern "C" {
#include <fivo/config.h>
#include <fivo/tfrecord.h>
}

using fivo_test::Split;
using fivo_test::TempDir;

namespace {

const fivo_dataset_vtable *vt()
{
    static const fivo_dataset_vtable *v = fivo_test::dataset_vtable("speech");
    return v;
}

// The build's copy of the reference's tiny speech file (byte for byte the
// same: tests/fixtures).
const char *kTiny = FIXTURE_TINY_SPEECH;

struct Cfg {
    fivo_config *c = fivo_config_new();
    explicit Cfg(const char *spt) { fivo_config_set(c, "dataset", "samples_per_timestep", spt); }
    ~Cfg() { fivo_config_free(c); }
};

} // namespace

TEST(Speech, TinyFileLikeTheReferenceTest)
{
    Cfg cfg("2");
    Split s(vt(), cfg.c, fivo_test::fixture(kTiny), "train");
    ASSERT_EQ(s.status, FIVO_OK) << s.err.message;
    fivo_dataset_info in = s.info();
    EXPECT_EQ(in.num_sequences, 4);
    EXPECT_EQ(in.dim, 2);
    EXPECT_EQ(in.min_len, 1);
    EXPECT_EQ(in.max_len, 4);
    EXPECT_EQ(in.total_timesteps, 10);
    EXPECT_DOUBLE_EQ(in.mean_len, 2.5);
    EXPECT_EQ(in.mean, nullptr);
    EXPECT_STREQ(in.kind, "real");

    fivo_batch b{};
    fivo_error e{};
    ASSERT_EQ(vt()->batch(s.self, 3, false, 0, 0, &b, &e), FIVO_OK) << e.message;
    ASSERT_EQ(b.batch_size, 3);
    ASSERT_EQ(b.max_len, 3);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(b.lengths[i], i + 1);
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 3; t++)
            for (int j = 0; j < 2; j++) {
                float y = fivo_batch_at(b.targets, &b, t, i)[j];
                float x = fivo_batch_at(b.inputs, &b, t, i)[j];
                EXPECT_EQ(y, t <= i ? (float)(2 * t + j) : 0.0f) << i << " " << t;
                EXPECT_EQ(x, (t >= 1 && t <= i) ? (float)(2 * (t - 1) + j) : 0.0f) << i << " " << t;
            }
    ASSERT_EQ(vt()->batch(s.self, 3, false, 0, 1, &b, &e), FIVO_OK);
    ASSERT_EQ(b.batch_size, 1);
    EXPECT_EQ(b.lengths[0], 4);
    EXPECT_EQ(b.seq_ids[0], 3);
    EXPECT_EQ(fivo_batch_at(b.targets, &b, 3, 0)[1], 7.0f);
    EXPECT_EQ(fivo_batch_at(b.inputs, &b, 3, 0)[1], 5.0f);
    EXPECT_EQ(vt()->batch(s.self, 3, false, 0, 2, &b, &e), FIVO_END);

    // Shuffled: full batches, every epoch a permutation.
    std::vector<int32_t> order;
    for (uint64_t k = 0; k < 4; k++) {
        ASSERT_EQ(vt()->batch(s.self, 3, true, 7, k, &b, &e), FIVO_OK);
        ASSERT_EQ(b.batch_size, 3);
        for (int i = 0; i < 3; i++) {
            order.push_back(b.seq_ids[i]);
            EXPECT_EQ(b.lengths[i], b.seq_ids[i] + 1);
        }
    }
    for (int ep = 0; ep < 3; ep++)
        EXPECT_EQ(std::set<int32_t>(order.begin() + 4 * ep, order.begin() + 4 * ep + 4).size(), 4u);
}

TEST(Speech, FolderOfSplits)
{
    TempDir dir;
    std::string bytes = fivo_test::read_bytes(fivo_test::fixture(kTiny));
    fivo_test::write_bytes(dir / "train", bytes);               // converter's names
    fivo_test::write_bytes(dir / "test.tfrecord", bytes.substr(0, 24)); // or with extension
    Cfg cfg("2");
    Split tr(vt(), cfg.c, dir.path, "train");
    ASSERT_EQ(tr.status, FIVO_OK) << tr.err.message;
    EXPECT_EQ(tr.info().num_sequences, 4);
    Split te(vt(), cfg.c, dir.path, "test");
    ASSERT_EQ(te.status, FIVO_OK) << te.err.message;
    EXPECT_EQ(te.info().num_sequences, 1);
    Split va(vt(), cfg.c, dir.path, "valid");
    EXPECT_EQ(va.status, FIVO_ERR_NOT_FOUND);
    EXPECT_NE(std::string(va.err.message).find("valid"), std::string::npos) << va.err.message;
}

TEST(Speech, BadInput)
{
    // Default 200 samples per timestep: the 8-byte first record cannot be cut.
    Split s(vt(), nullptr, fivo_test::fixture(kTiny), "train");
    EXPECT_EQ(s.status, FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(s.err.message).find("record 0 at offset 0"), std::string::npos)
        << s.err.message;
    EXPECT_NE(std::string(s.err.message).find("samples_per_timestep"), std::string::npos);
    // 3 samples per timestep: record 0 has 2 samples.
    Cfg three("3");
    Split s3(vt(), three.c, fivo_test::fixture(kTiny), "train");
    EXPECT_EQ(s3.status, FIVO_ERR_FORMAT);
    // A bad config value names the key.
    Cfg bad("two");
    Split sb(vt(), bad.c, fivo_test::fixture(kTiny), "train");
    EXPECT_EQ(sb.status, FIVO_ERR_INVALID);
    EXPECT_NE(std::string(sb.err.message).find("samples_per_timestep"), std::string::npos)
        << sb.err.message;
    // A corrupt file: the CRC error comes through open.
    TempDir dir;
    std::string bytes = fivo_test::read_bytes(fivo_test::fixture(kTiny));
    bytes[60 + 12] ^= 1;
    fivo_test::write_bytes(dir / "c.tfrecord", bytes);
    Cfg two("2");
    Split sc(vt(), two.c, dir / "c.tfrecord", "train");
    EXPECT_EQ(sc.status, FIVO_ERR_FORMAT);
    EXPECT_NE(std::string(sc.err.message).find("CRC"), std::string::npos) << sc.err.message;
    Split sm(vt(), two.c, dir / "missing", "train");
    EXPECT_EQ(sm.status, FIVO_ERR_NOT_FOUND);
}
