// The counter-based RNG: Philox known answers, fixed values for a seed,
// disjoint streams, order independence, moments of the normals, and the
// context's keyed streams.
#include <gtest/gtest.h>

#include <fivo/fivo.h>

#include <cmath>
#include <set>
#include <vector>

namespace {

TEST(Rng, PhiloxKnownAnswers)
{
    // Known-answer vectors of Philox4x32-10 from the Random123 distribution.
    struct Kat {
        uint32_t ctr[4], key[2], out[4];
    } kats[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (auto &k : kats) {
        uint32_t out[4];
        fivo_philox4x32(k.ctr, k.key, out);
        for (int i = 0; i < 4; i++)
            EXPECT_EQ(out[i], k.out[i]) << std::hex << i;
    }
}

TEST(Rng, FixedSeedGivesFixedValues)
{
    fivo_rng r = fivo_rng_make(42, FIVO_RNG_PROPOSAL, 7);
    float u[3], z[3];
    fivo_rng_uniform(&r, 3, u, 3);
    fivo_rng_normal(&r, 3, z, 3);
    // Golden values: a change here changes every seeded run.
    const float gu[3] = {0.980021775f, 0.0398958325f, 0.526747167f};
    const float gz[3] = {0.194621727f, 0.0498345718f, -0.494024247f}; // float Box-Muller
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(u[i], gu[i]) << i;
        EXPECT_EQ(z[i], gz[i]) << i;
    }
    EXPECT_EQ(fivo_rng_u64(&r, 3, 5), 7012639312929989779ull);
}

// The float Box-Muller against the same formula in double on the same
// Philox words: it only rounds differently (radius to ~1e-6 relative, angle
// ~3e-7 absolute); the radius keeps all 32 bits (tail to |z| = 6.7).
TEST(Rng, FloatBoxMullerMatchesDouble)
{
    fivo_rng r = fivo_rng_make(77, FIVO_RNG_PROPOSAL, 3);
    const int n = 4000;
    std::vector<float> z(n);
    fivo_rng_normal(&r, 2, z.data(), n);
    double max_err = 0;
    for (int i = 0; i < n; i += 4) {
        uint32_t w[4];
        // the words fivo_rng_normal used: fivo_rng_u64 reads the same blocks
        uint64_t a = fivo_rng_u64(&r, 2, (uint64_t)i / 2), b = fivo_rng_u64(&r, 2, (uint64_t)i / 2 + 1);
        w[0] = (uint32_t)(a >> 32), w[1] = (uint32_t)a, w[2] = (uint32_t)(b >> 32), w[3] = (uint32_t)b;
        for (int k = 0; k < 4; k += 2) {
            double rad = std::sqrt(-2.0 * std::log(((double)w[k] + 0.5) / 4294967296.0));
            double th = 2.0 * M_PI * (((double)(w[k + 1] >> 8) + 0.5) / 16777216.0);
            max_err = std::max(max_err, std::fabs(z[i + k] - rad * std::cos(th)) / std::max(1.0, rad));
            max_err = std::max(max_err, std::fabs(z[i + k + 1] - rad * std::sin(th)) / std::max(1.0, rad));
        }
    }
    EXPECT_LT(max_err, 2e-6);
}

TEST(Rng, PureFunctionOfIndex)
{
    fivo_rng r = fivo_rng_make(1, FIVO_RNG_USER, 99);
    std::vector<float> a(37), b(5);
    fivo_rng_normal(&r, 4, a.data(), 37);
    fivo_rng_normal(&r, 4, b.data(), 5);
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(a[i], b[i]);
    std::vector<double> d1(9), d2(3);
    fivo_rng_uniform_double(&r, 4, d1.data(), 9);
    fivo_rng_uniform_double(&r, 4, d2.data(), 3);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(d1[i], d2[i]);
}

TEST(Rng, StreamsDoNotOverlap)
{
    // 64-bit values from many (seed, purpose, step, row) streams: any shared
    // counter or key would show up as repeats.
    std::set<uint64_t> seen;
    size_t total = 0;
    for (uint64_t seed : {0ull, 1ull, 1ull << 32})
        for (uint32_t purpose : {FIVO_RNG_INIT, FIVO_RNG_PROPOSAL, FIVO_RNG_RESAMPLE})
            for (uint64_t step : {0ull, 1ull, 1ull << 32, (1ull << 32) + 1})
                for (uint32_t row = 0; row < 8; row++) {
                    fivo_rng r = fivo_rng_make(seed, purpose, step);
                    for (uint64_t i = 0; i < 64; i++) {
                        seen.insert(fivo_rng_u64(&r, row, i));
                        total++;
                    }
                }
    EXPECT_EQ(seen.size(), total);
}

TEST(Rng, UniformsInOpenInterval)
{
    fivo_rng r = fivo_rng_make(5, FIVO_RNG_RESAMPLE, 0);
    std::vector<float> u(100000);
    std::vector<double> d(100000);
    fivo_rng_uniform(&r, 0, u.data(), (int)u.size());
    fivo_rng_uniform_double(&r, 1, d.data(), (int)d.size());
    double mu = 0, md = 0;
    for (size_t i = 0; i < u.size(); i++) {
        ASSERT_GT(u[i], 0.0f);
        ASSERT_LT(u[i], 1.0f);
        ASSERT_GT(d[i], 0.0);
        ASSERT_LT(d[i], 1.0);
        mu += u[i];
        md += d[i];
    }
    EXPECT_NEAR(mu / u.size(), 0.5, 0.005);
    EXPECT_NEAR(md / d.size(), 0.5, 0.005);
}

TEST(Rng, NormalMoments)
{
    const int n = 400000;
    std::vector<float> z(n);
    fivo_rng r = fivo_rng_make(123, FIVO_RNG_PROPOSAL, 17);
    fivo_rng_normal(&r, 0, z.data(), n);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (float v : z) {
        ASSERT_TRUE(std::isfinite(v));
        m1 += v;
        m2 += (double)v * v;
        m3 += (double)v * v * v;
        m4 += (double)v * v * v * v;
    }
    m1 /= n, m2 /= n, m3 /= n, m4 /= n;
    // standard errors: mean 1/sqrt(n) = 0.0016, var sqrt(2/n) = 0.0022,
    // skew sqrt(15/n) = 0.006, kurtosis sqrt(96/n) = 0.015; bounds ~4 s.e.
    EXPECT_NEAR(m1, 0.0, 0.0065);
    EXPECT_NEAR(m2, 1.0, 0.009);
    EXPECT_NEAR(m3, 0.0, 0.025);
    EXPECT_NEAR(m4, 3.0, 0.06);
}

TEST(Rng, ContextStreamsAndRowKeys)
{
    fivo_ctx *ctx = fivo_ctx_new(1 << 16, 0);
    fivo_ctx_set_seed(ctx, 9, 4);
    fivo_tensor *a = fivo_randn(ctx, FIVO_RNG_PROPOSAL, 2, 3, 5);
    fivo_rng r = fivo_ctx_rng(ctx, FIVO_RNG_PROPOSAL, 2);
    EXPECT_EQ(r.seed, 9u);
    EXPECT_EQ(r.step, (4ull << 32) | 2u);
    float row1[5];
    fivo_rng_normal(&r, 1, row1, 5);
    for (int j = 0; j < 5; j++)
        EXPECT_EQ(fivo_tensor_row(a, 1)[j], row1[j]);
    // keys: a sequence gets its numbers wherever its rows sit
    const uint32_t keys[3] = {2, 0, 1};
    fivo_ctx_set_row_keys(ctx, keys, 3);
    EXPECT_EQ(fivo_ctx_row_key(ctx, 0), 2u);
    fivo_tensor *b = fivo_randn(ctx, FIVO_RNG_PROPOSAL, 2, 3, 5);
    for (int j = 0; j < 5; j++) {
        EXPECT_EQ(fivo_tensor_row(b, 0)[j], fivo_tensor_row(a, 2)[j]);
        EXPECT_EQ(fivo_tensor_row(b, 2)[j], fivo_tensor_row(a, 1)[j]);
    }
    fivo_ctx_set_row_keys(ctx, nullptr, 0);
    EXPECT_EQ(fivo_ctx_row_key(ctx, 2), 2u);
    // different t, purpose or global step: different numbers
    fivo_tensor *c = fivo_randn(ctx, FIVO_RNG_PROPOSAL, 3, 3, 5);
    fivo_tensor *d = fivo_randn(ctx, FIVO_RNG_EMISSION, 2, 3, 5);
    fivo_ctx_set_seed(ctx, 9, 5);
    fivo_tensor *e = fivo_randn(ctx, FIVO_RNG_PROPOSAL, 2, 3, 5);
    EXPECT_NE(c->data[0], a->data[0]);
    EXPECT_NE(d->data[0], a->data[0]);
    EXPECT_NE(e->data[0], a->data[0]);
    fivo_tensor *u = fivo_rand_uniform(ctx, FIVO_RNG_RESAMPLE, 0, 4, 3);
    for (size_t i = 0; i < fivo_tensor_size(u); i++) {
        EXPECT_GT(u->data[i], 0.0f);
        EXPECT_LT(u->data[i], 1.0f);
    }
    EXPECT_EQ(a->node, -1);
    fivo_ctx_free(ctx);
}

} // namespace

// The host's eval (2^62 + batch) and sample (3 * 2^62) domains must not reuse
// a training step's stream: the global step's high bits reach the key, while
// steps below 2^32 keep the values they always had.
TEST(RngCtx, HighGlobalStepBitsNameSeparateDomains)
{
    fivo_ctx *ctx = fivo_ctx_new(1 << 16, 0);
    ASSERT_NE(ctx, nullptr);
    auto draw = [&](uint64_t global_step) {
        fivo_ctx_set_seed(ctx, 42, global_step);
        fivo_rng r = fivo_ctx_rng(ctx, FIVO_RNG_PROPOSAL, 3);
        std::vector<float> v(8);
        fivo_rng_normal(&r, 0, v.data(), 8);
        return v;
    };
    std::vector<float> train0 = draw(0), train7 = draw(7);
    std::vector<float> eval0 = draw(UINT64_C(1) << 62), eval7 = draw((UINT64_C(1) << 62) + 7);
    std::vector<float> sample0 = draw(UINT64_C(3) << 62);
    EXPECT_NE(train0, eval0);
    EXPECT_NE(train7, eval7);
    EXPECT_NE(train0, sample0);
    EXPECT_NE(eval0, sample0);
    EXPECT_NE(eval0, eval7);
    // Below 2^32 the stream is the plain (seed, purpose, step << 32 | t) one.
    fivo_rng plain = fivo_rng_make(42, FIVO_RNG_PROPOSAL, (UINT64_C(7) << 32) | 3);
    std::vector<float> expect(8);
    fivo_rng_normal(&plain, 0, expect.data(), 8);
    EXPECT_EQ(train7, expect);
    fivo_ctx_free(ctx);
}
