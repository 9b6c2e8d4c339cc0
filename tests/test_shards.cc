// Fixed shards of a batch and the exact fixed-point sum of their gradients
// (fivo/internal/shards.h): ranges cover the batch, slices copy the right rows, and
// the sum is the same bits in any order and close to the exact sum.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fivo/internal/comm.h>
#include <fivo/internal/shards.h>

TEST(Shards, RangesCoverTheBatchInOrder)
{
    for (int B = 1; B <= 17; B++)
        for (int S = 1; S <= B; S++) {
            int next = 0;
            for (int i = 0; i < S; i++) {
                int first, count;
                fivo_shard_range(B, S, i, &first, &count);
                EXPECT_EQ(first, next) << B << " " << S << " " << i;
                EXPECT_GE(count, B / S);
                EXPECT_LE(count, B / S + 1);
                next = first + count;
            }
            EXPECT_EQ(next, B);
        }
}

TEST(Shards, CheckNamesBothNumbers)
{
    fivo_error err = {};
    EXPECT_EQ(fivo_shards_check(8, 4, 2, &err), FIVO_OK);
    EXPECT_EQ(fivo_shards_check(8, 3, 2, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("shards = 3 is not divisible by the 2 MPI ranks"),
              std::string::npos)
        << err.message;
    EXPECT_EQ(fivo_shards_check(4, 5, 1, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("batch_size = 4"), std::string::npos) << err.message;
    EXPECT_EQ(fivo_shards_check(4, 0, 1, &err), FIVO_ERR_INVALID);
}

TEST(Shards, SliceCopiesTheShardsRows)
{
    const int T = 3, B = 5, D = 2;
    std::vector<float> in(T * B * D), tg(T * B * D);
    for (size_t i = 0; i < in.size(); i++) {
        in[i] = (float)i;
        tg[i] = (float)(1000 + i);
    }
    std::vector<int32_t> len = {3, 1, 2, 3, 2}, ids = {10, 11, 12, 13, 14};
    fivo_batch full = {T, B, D, in.data(), tg.data(), len.data(), ids.data(), sizeof(fivo_batch)};
    fivo_shard_buffer buf = {};
    fivo_batch s;
    fivo_error err = {};
    ASSERT_EQ(fivo_shard_slice(&full, 2, 2, &buf, &s, &err), FIVO_OK) << err.message;
    EXPECT_EQ(s.max_len, T);
    EXPECT_EQ(s.batch_size, 2);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < 2; b++)
            for (int d = 0; d < D; d++) {
                EXPECT_EQ(fivo_batch_at(s.inputs, &s, t, b)[d],
                          fivo_batch_at(full.inputs, &full, t, 2 + b)[d]);
                EXPECT_EQ(fivo_batch_at(s.targets, &s, t, b)[d],
                          fivo_batch_at(full.targets, &full, t, 2 + b)[d]);
            }
    EXPECT_EQ(s.lengths[0], 2);
    EXPECT_EQ(s.lengths[1], 3);
    EXPECT_EQ(s.seq_ids[0], 12);
    EXPECT_EQ(s.seq_ids[1], 13);
    // A shard runs to its own longest sequence, not the batch's.
    ASSERT_EQ(fivo_shard_slice(&full, 1, 1, &buf, &s, &err), FIVO_OK) << err.message;
    EXPECT_EQ(s.max_len, 1);
    EXPECT_EQ(s.lengths[0], 1);
    EXPECT_EQ(fivo_batch_at(s.targets, &s, 0, 0)[1], fivo_batch_at(full.targets, &full, 0, 1)[1]);
    ASSERT_EQ(fivo_shard_slice(&full, 1, 2, &buf, &s, &err), FIVO_OK) << err.message;
    EXPECT_EQ(s.max_len, 2);
    EXPECT_EQ(fivo_shard_slice(&full, 4, 2, &buf, &s, &err), FIVO_ERR_INVALID);
    fivo_shard_buffer_free(&buf);
}

// Sum of S shards in fixed point, the shards added in the order `order`.
static std::vector<float> fixed_sum(const std::vector<std::vector<float>> &shards,
                                    const std::vector<int> &order)
{
    size_t n = shards[0].size();
    int32_t e = FIVO_FIXED_EXP_ZERO;
    for (const auto &s : shards)
        e = std::max(e, fivo_fixed_max_exponent(s.data(), n));
    int scale = fivo_fixed_scale(e, (int)shards.size());
    std::vector<int64_t> acc(n, 0);
    for (int i : order)
        fivo_fixed_add(acc.data(), shards[i].data(), n, scale);
    std::vector<float> out(n);
    fivo_fixed_to_float(out.data(), acc.data(), n, scale);
    return out;
}

TEST(FixedSum, SameBitsInAnyOrderAndNearTheExactSum)
{
    std::mt19937 gen(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int S = 8;
    const size_t n = 1000;
    std::vector<std::vector<float>> shards(S, std::vector<float>(n));
    for (auto &s : shards)
        for (size_t i = 0; i < n; i++)
            s[i] = nd(gen) * std::pow(10.0f, (float)(i % 7) - 3.0f);
    std::vector<int> order(S);
    std::iota(order.begin(), order.end(), 0);
    std::vector<float> first = fixed_sum(shards, order);
    for (int trial = 0; trial < 5; trial++) {
        std::shuffle(order.begin(), order.end(), gen);
        std::vector<float> again = fixed_sum(shards, order);
        ASSERT_EQ(0, memcmp(first.data(), again.data(), n * sizeof(float)));
    }
    double maxabs = 0;
    for (const auto &s : shards)
        for (float v : s)
            maxabs = std::max(maxabs, (double)std::fabs(v));
    for (size_t i = 0; i < n; i++) {
        double exact = 0;
        for (const auto &s : shards)
            exact += (double)s[i];
        // float rounding of the exact sum, plus S units of 2^-e.
        EXPECT_NEAR(first[i], exact, std::fabs(exact) * 6e-8 + maxabs * 1e-17) << i;
    }
}

TEST(FixedSum, ZeroAndExtremeTensors)
{
    std::vector<float> z(4, 0.0f);
    EXPECT_EQ(fivo_fixed_max_exponent(z.data(), z.size()), FIVO_FIXED_EXP_ZERO);
    std::vector<std::vector<float>> big = {{3e38f, -3e38f, 1.0f, 0.0f}, {3e38f, 0.0f, -1.0f, 1e-30f}};
    std::vector<float> s = fixed_sum(big, {0, 1});
    EXPECT_TRUE(std::isinf(s[0]) || s[0] > 3e38f); // 6e38 overflows float: inf, like a float sum
    EXPECT_EQ(s[1], -3e38f);
    std::vector<std::vector<float>> tiny = {{1e-40f, 0.0f}, {1e-40f, 2e-45f}};
    std::vector<float> t = fixed_sum(tiny, {1, 0});
    EXPECT_EQ(t[0], 1e-40f + 1e-40f);
    EXPECT_EQ(t[1], 2e-45f);
}

TEST(Comm, OneProcessWithoutALauncher)
{
    EXPECT_EQ(fivo_comm_rank(), 0);
    EXPECT_EQ(fivo_comm_size(), 1);
    EXPECT_TRUE(fivo_comm_owns(5, 0, 1));
    EXPECT_FALSE(fivo_comm_owns(5, 0, 2));
    EXPECT_TRUE(fivo_comm_owns(5, 1, 2));
    fivo_error err = {};
    EXPECT_EQ(fivo_comm_agree(FIVO_ERR_IO, &err, nullptr, 0), FIVO_ERR_IO);
    int64_t v[2] = {3, -4};
    EXPECT_EQ(fivo_comm_sum_int64(v, 2, &err), FIVO_OK);
    EXPECT_EQ(v[0], 3);
    double mine[2] = {1.5, 2.5}, *all = nullptr;
    int n = 0;
    ASSERT_EQ(fivo_comm_gather_doubles(mine, 2, &all, &n, &err), FIVO_OK);
    ASSERT_EQ(n, 2);
    EXPECT_EQ(all[1], 2.5);
    free(all);
}
