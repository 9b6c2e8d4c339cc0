// fivo_batcher: sequence choice in order and shuffled, padding, the shift
// from targets to inputs, and bad arguments.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

extern "C" {
#include <fivo/batcher.h>
#include <fivo/rng.h>
#include <fivo/shuffle.h>
}

namespace {

struct Batcher {
    fivo_batcher *b = nullptr;
    Batcher(const std::vector<int32_t> &len, int dim)
    {
        fivo_error e{};
        EXPECT_EQ(fivo_batcher_create("test", (int32_t)len.size(), len.data(), dim, &b, &e),
                  FIVO_OK)
            << e.message;
    }
    ~Batcher() { fivo_batcher_destroy(b); }
};

// Frame value of sequence s, timestep t, column j.
float value(int32_t s, int t, int j) { return (float)(100 * s + 10 * t + j); }

} // namespace

TEST(Batcher, InOrderPassPadsAndShifts)
{
    std::vector<int32_t> len = {3, 1, 4, 2, 5};
    Batcher b(len, 2);
    fivo_batch out{};
    fivo_error e{};
    float *y = nullptr;
    ASSERT_EQ(fivo_batcher_begin(b.b, 2, false, 0, 1, &out, &y, &e), FIVO_OK) << e.message;
    ASSERT_EQ(out.batch_size, 2);
    EXPECT_EQ(out.max_len, 4);
    EXPECT_EQ(out.dim, 2);
    EXPECT_EQ(out.seq_ids[0], 2);
    EXPECT_EQ(out.seq_ids[1], 3);
    EXPECT_EQ(out.lengths[0], 4);
    EXPECT_EQ(out.lengths[1], 2);
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < out.lengths[i]; t++)
            for (int j = 0; j < 2; j++)
                y[((size_t)t * 2 + i) * 2 + j] = value(out.seq_ids[i], t, j);
    const float offset[2] = {0.5f, -1.0f};
    fivo_batcher_shift(b.b, offset);
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < out.max_len; t++)
            for (int j = 0; j < 2; j++) {
                float tv = fivo_batch_at(out.targets, &out, t, i)[j];
                float iv = fivo_batch_at(out.inputs, &out, t, i)[j];
                bool in = t < out.lengths[i];
                EXPECT_EQ(tv, in ? value(out.seq_ids[i], t, j) : 0.0f);
                EXPECT_EQ(iv, in && t > 0 ? value(out.seq_ids[i], t - 1, j) - offset[j] : 0.0f)
                    << "seq " << i << " t " << t << " j " << j;
            }
    // The last batch is short, then the pass ends (also for a huge index).
    ASSERT_EQ(fivo_batcher_begin(b.b, 2, false, 0, 2, &out, &y, &e), FIVO_OK);
    EXPECT_EQ(out.batch_size, 1);
    EXPECT_EQ(out.seq_ids[0], 4);
    EXPECT_EQ(fivo_batcher_begin(b.b, 2, false, 0, 3, &out, &y, &e), FIVO_END);
    EXPECT_EQ(fivo_batcher_begin(b.b, 2, false, 0, UINT64_MAX / 2, &out, &y, &e), FIVO_END);
}

TEST(Batcher, ShuffledBatchesFollowTheEpochPermutations)
{
    std::vector<int32_t> len = {1, 2, 3, 4, 5, 6, 7};
    const int32_t n = (int32_t)len.size();
    Batcher b(len, 1), fresh(len, 1);
    fivo_batch out{};
    fivo_error e{};
    float *y = nullptr;
    const int B = 3;
    // Batches 0..6 cover three epochs; batch 2 straddles epochs 0 and 1.
    for (uint64_t k = 0; k < 7; k++) {
        ASSERT_EQ(fivo_batcher_begin(b.b, B, true, 9, k, &out, &y, &e), FIVO_OK) << e.message;
        ASSERT_EQ(out.batch_size, B);
        for (int i = 0; i < B; i++) {
            uint64_t pos = k * B + (uint64_t)i;
            std::vector<int32_t> perm(n);
            fivo_shuffle_permutation(9, FIVO_RNG_SHUFFLE, pos / n, n, perm.data());
            EXPECT_EQ(out.seq_ids[i], perm[pos % n]) << "batch " << k << " row " << i;
            EXPECT_EQ(out.lengths[i], len[out.seq_ids[i]]);
        }
    }
    // Pure in (seed, index): a fresh batcher asked for batch 5 alone agrees.
    ASSERT_EQ(fivo_batcher_begin(b.b, B, true, 9, 5, &out, &y, &e), FIVO_OK);
    std::vector<int32_t> again(out.seq_ids, out.seq_ids + B);
    ASSERT_EQ(fivo_batcher_begin(fresh.b, B, true, 9, 5, &out, &y, &e), FIVO_OK);
    EXPECT_EQ(std::vector<int32_t>(out.seq_ids, out.seq_ids + B), again);
    // One epoch holds every sequence once.
    std::set<int32_t> seen;
    ASSERT_EQ(fivo_batcher_begin(fresh.b, n, true, 9, 4, &out, &y, &e), FIVO_OK);
    seen.insert(out.seq_ids, out.seq_ids + n);
    EXPECT_EQ((int32_t)seen.size(), n);
}

TEST(Batcher, BadArgumentsAreErrorsNamingTheDataset)
{
    fivo_batcher *b = nullptr;
    fivo_error e{};
    EXPECT_EQ(fivo_batcher_create("mine", 2, nullptr, 3, &b, &e), FIVO_ERR_INVALID);
    EXPECT_EQ(b, nullptr);
    EXPECT_NE(std::string(e.message).find("mine: "), std::string::npos) << e.message;
    EXPECT_EQ(fivo_batcher_create("mine", 1, nullptr, 0, &b, &e), FIVO_ERR_INVALID);
    Batcher empty({}, 3);
    fivo_batch out{};
    float *y = nullptr;
    EXPECT_EQ(fivo_batcher_begin(empty.b, 4, false, 0, 0, &out, &y, &e), FIVO_END);
    EXPECT_EQ(fivo_batcher_begin(empty.b, 4, true, 0, 0, &out, &y, &e), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(e.message).find("test: the split is empty"), std::string::npos)
        << e.message;
    std::vector<int32_t> len = {2};
    Batcher one(len, 1);
    EXPECT_EQ(fivo_batcher_begin(one.b, 0, false, 0, 0, &out, &y, &e), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(e.message).find("test: batch_size 0"), std::string::npos)
        << e.message;
}
