// Distributions: Normal and Bernoulli log-probs against closed forms
// (including extreme logits), the scale parameterisation, samplers and
// categorical inverse-CDF draws.
#include <gtest/gtest.h>

#include <fivo/fivo.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

struct Dist : ::testing::Test {
    void SetUp() override { ctx = fivo_ctx_new(1 << 16, 0); }
    void TearDown() override { fivo_ctx_free(ctx); }
    fivo_ctx *ctx;
    std::mt19937 g{3};
};

TEST_F(Dist, NormalLogProbClosedForm)
{
    std::uniform_real_distribution<float> u(-3, 3), s(0.05f, 4.0f);
    for (int bc = 0; bc < 2; bc++) {
        int rows = 5, cols = 7, prow = bc ? 1 : rows;
        std::vector<float> x(rows * cols), mu(prow * cols), sg(prow * cols);
        for (auto &v : x) v = u(g);
        for (auto &v : mu) v = u(g);
        for (auto &v : sg) v = s(g);
        fivo_tensor *lp = fivo_normal_log_prob(ctx, fivo_tensor_from(ctx, rows, cols, x.data()),
                                               fivo_tensor_from(ctx, prow, cols, mu.data()),
                                               fivo_tensor_from(ctx, prow, cols, sg.data()));
        ASSERT_EQ(lp->rows, rows);
        ASSERT_EQ(lp->cols, 1);
        for (int r = 0; r < rows; r++) {
            double e = 0;
            for (int j = 0; j < cols; j++) {
                int pi = (bc ? 0 : r) * cols + j;
                double z = ((double)x[r * cols + j] - mu[pi]) / sg[pi];
                e += -0.5 * std::log(2 * M_PI) - std::log((double)sg[pi]) - 0.5 * z * z;
            }
            EXPECT_NEAR(lp->data[r], e, 1e-6 * std::fabs(e) + 1e-6) << r;
        }
    }
}

TEST_F(Dist, BernoulliLogProbExtremeLogits)
{
    const float logits[] = {-1e4f, -200.f, -80.f, -30.f, -1.f, 0.f, 1.f, 30.f, 80.f, 200.f, 1e4f};
    const int n = sizeof logits / sizeof *logits;
    for (float xv : {0.0f, 1.0f}) {
        std::vector<float> xs(n, xv);
        fivo_tensor *l = fivo_tensor_from(ctx, n, 1, logits);
        l->flags |= FIVO_TENSOR_REQUIRES_GRAD;
        fivo_tensor *lp = fivo_bernoulli_log_prob(ctx, l, fivo_tensor_from(ctx, n, 1, xs.data()));
        ASSERT_EQ(fivo_ctx_backward(ctx, fivo_sum_all(ctx, lp), nullptr), FIVO_OK);
        for (int i = 0; i < n; i++) {
            double v = logits[i];
            // log sigmoid(v) = -log1p(exp(-v)); log sigmoid(-v) = -log1p(exp(v)), exact forms
            double e = xv > 0 ? (v > 0 ? -std::log1p(std::exp(-v)) : v - std::log1p(std::exp(v)))
                              : (v > 0 ? -v - std::log1p(std::exp(-v)) : -std::log1p(std::exp(v)));
            ASSERT_TRUE(std::isfinite(lp->data[i])) << v;
            EXPECT_NEAR(lp->data[i], e, 1e-7 * std::fabs(e) + 1e-30) << "x " << xv << " logit " << v;
            double sig = 1.0 / (1.0 + std::exp(-v));
            ASSERT_TRUE(std::isfinite(l->grad[i]));
            EXPECT_NEAR(l->grad[i], xv - sig, 1e-7) << v;
        }
        // the smallest magnitudes are not flushed to zero
        EXPECT_LT(lp->data[xv > 0 ? 8 : 2], 0.0f);
        EXPECT_GT(lp->data[xv > 0 ? 8 : 2], -1e-30f);
        fivo_ctx_reset(ctx);
    }
}

TEST_F(Dist, NormalScale)
{
    const float raw[] = {-100.f, -5.f, -0.5f, 0.f, 2.f, 100.f};
    fivo_tensor *s = fivo_normal_scale(ctx, fivo_tensor_from(ctx, 1, 6, raw), 0.5f, 0.01f);
    for (int i = 0; i < 6; i++) {
        double v = raw[i] + 0.5;
        double sp = v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
        EXPECT_NEAR(s->data[i], std::max(sp, 0.01), 1e-6 * std::max(sp, 0.01)) << i;
    }
    EXPECT_EQ(s->data[0], 0.01f);
}

TEST_F(Dist, NormalSampleUsesTheStream)
{
    fivo_ctx_set_seed(ctx, 77, 2);
    fivo_tensor *mu = fivo_tensor_fill(ctx, 4, 3, 1.5f), *sg = fivo_tensor_fill(ctx, 4, 3, 0.25f);
    fivo_tensor *z = fivo_normal_sample(ctx, mu, sg, FIVO_RNG_PROPOSAL, 6);
    fivo_tensor *eps = fivo_randn(ctx, FIVO_RNG_PROPOSAL, 6, 4, 3);
    for (size_t i = 0; i < 12; i++)
        EXPECT_FLOAT_EQ(z->data[i], 1.5f + 0.25f * eps->data[i]);
}

TEST_F(Dist, BernoulliSampleFrequencies)
{
    fivo_ctx_set_seed(ctx, 1, 0);
    const int rows = 2000, cols = 3;
    std::vector<float> l(rows * cols);
    for (int r = 0; r < rows; r++) {
        l[r * cols] = 0.7f;
        l[r * cols + 1] = 80.0f;
        l[r * cols + 2] = -80.0f;
    }
    fivo_tensor *s = fivo_bernoulli_sample(ctx, fivo_tensor_from(ctx, rows, cols, l.data()), FIVO_RNG_EMISSION, 0);
    double ones = 0;
    for (int r = 0; r < rows; r++) {
        ones += s->data[r * cols];
        EXPECT_EQ(s->data[r * cols + 1], 1.0f);
        EXPECT_EQ(s->data[r * cols + 2], 0.0f);
    }
    double p = 1 / (1 + std::exp(-0.7));
    EXPECT_NEAR(ones / rows, p, 4 * std::sqrt(p * (1 - p) / rows));
}

TEST(Categorical, FrequenciesAndNeverMinusInf)
{
    const double lw[] = {std::log(0.1), -INFINITY, std::log(0.6), std::log(0.3), -INFINITY};
    const int n = 100000;
    std::vector<double> u(n);
    fivo_rng r = fivo_rng_make(5, FIVO_RNG_RESAMPLE, 1);
    fivo_rng_uniform_double(&r, 0, u.data(), n);
    std::vector<int32_t> out(n);
    ASSERT_EQ(fivo_categorical_sample(lw, 5, u.data(), n, out.data()), FIVO_OK);
    int counts[5] = {0};
    for (int v : out) {
        ASSERT_GE(v, 0);
        ASSERT_LT(v, 5);
        counts[v]++;
    }
    EXPECT_EQ(counts[1], 0);
    EXPECT_EQ(counts[4], 0);
    const double p[] = {0.1, 0, 0.6, 0.3, 0};
    for (int i : {0, 2, 3})
        EXPECT_NEAR(counts[i] / (double)n, p[i], 4 * std::sqrt(p[i] * (1 - p[i]) / n)) << i;
    // the edges of (0, 1): never an impossible index
    const double edge[] = {1e-300, 1.0 - 1e-16, 0.1 - 1e-12, 0.1 + 1e-12};
    int32_t e[4];
    ASSERT_EQ(fivo_categorical_sample(lw, 5, edge, 4, e), FIVO_OK);
    EXPECT_EQ(e[0], 0);
    EXPECT_EQ(e[1], 3);
    EXPECT_EQ(e[2], 0);
    EXPECT_EQ(e[3], 2);
    // huge log weights are shifted, not overflowed
    const double big[] = {1e6, 1e6 + std::log(3.0)};
    const double half[] = {0.2, 0.3};
    int32_t b[2];
    ASSERT_EQ(fivo_categorical_sample(big, 2, half, 2, b), FIVO_OK);
    EXPECT_EQ(b[0], 0);
    EXPECT_EQ(b[1], 1);
}

TEST(Categorical, Errors)
{
    const double u[] = {0.5};
    int32_t o[1];
    const double all_inf[] = {-INFINITY, -INFINITY};
    const double has_nan[] = {0.0, NAN};
    const double pos_inf[] = {0.0, INFINITY};
    EXPECT_EQ(fivo_categorical_sample(all_inf, 2, u, 1, o), FIVO_ERR_NUMERIC);
    EXPECT_EQ(fivo_categorical_sample(has_nan, 2, u, 1, o), FIVO_ERR_NUMERIC);
    EXPECT_EQ(fivo_categorical_sample(pos_inf, 2, u, 1, o), FIVO_ERR_NUMERIC);
    EXPECT_EQ(fivo_categorical_sample(has_nan, 0, u, 1, o), FIVO_ERR_INVALID);
}

TEST(Categorical, ManyCategories)
{
    const int k = 3000; // beyond the on-stack CDF
    std::vector<double> lw(k, -INFINITY);
    lw[2999] = 0.0;
    lw[1500] = 0.0;
    const double u[] = {0.25, 0.75};
    int32_t o[2];
    ASSERT_EQ(fivo_categorical_sample(lw.data(), k, u, 2, o), FIVO_OK);
    EXPECT_EQ(o[0], 1500);
    EXPECT_EQ(o[1], 2999);
}

TEST(Reduce, LogsumexpGroupsStableInDouble)
{
    fivo_ctx *ctx = fivo_ctx_new(1 << 12, 0);
    // 3 groups x 2 sequences, row = g * B + b
    const float a[] = {1000.f, -INFINITY, 1000.f, -INFINITY, 1000.f + std::log(2.f), -INFINITY};
    fivo_tensor *y = fivo_logsumexp_groups(ctx, fivo_tensor_from(ctx, 6, 1, a), 3);
    EXPECT_NEAR(y->data[0], 1000.0 + std::log(4.0), 1e-4);
    EXPECT_EQ(y->data[1], -INFINITY);
    fivo_ctx_free(ctx);
}

} // namespace
