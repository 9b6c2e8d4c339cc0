// Every tape op: tape gradients against central finite differences.
// Forward in float, differences of a double-accumulated loss, h = 1e-2
// (1e-3 for the steep ops); error = |tape - numeric| / max(0.1, |tape|,
// |numeric|) must stay below kTol. Shapes include 1 row and odd sizes.
#include <gtest/gtest.h>

#include "gradcheck.h"

#include <fivo/fivo.h>

namespace {

constexpr double kTol = 5e-3;
constexpr double kFloor = 0.1;

struct Shape {
    int r, c;
};
const Shape kShapes[] = {{1, 1}, {1, 5}, {3, 7}, {16, 9}};

class Autodiff : public ::testing::Test {
protected:
    void SetUp() override { ctx = fivo_ctx_new(1 << 16, 0); }
    void TearDown() override { fivo_ctx_free(ctx); }

    void expect_ok(std::vector<gc::Input> in, gc::Fn fn, const std::string &what, double h = 1e-2,
                   std::vector<fivo_tensor *> params = {})
    {
        gc::Checker ch(ctx, std::move(in), std::move(params), std::move(fn));
        gc::Result r = ch.run(h, kFloor);
        EXPECT_EQ(ch.status, FIVO_OK) << what;
        EXPECT_GT(r.checked, 0) << what;
        EXPECT_LT(r.max_err, kTol) << what << ": " << r.where;
        fivo_error err;
        EXPECT_EQ(fivo_ctx_status(ctx, &err), FIVO_OK) << what << ": " << err.message;
    }

    fivo_ctx *ctx = nullptr;
    std::mt19937 g{42};
};

using V = std::vector<fivo_tensor *>;

TEST_F(Autodiff, Matmul)
{
    const int dims[][3] = {{1, 3, 5}, {4, 7, 2}, {16, 9, 13}, {1, 1, 1}};
    for (auto &d : dims)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = d[0], k = d[1], n = d[2];
                auto a = gc::random_input(g, ta ? k : m, ta ? m : k);
                auto b = gc::random_input(g, tb ? n : k, tb ? k : n);
                expect_ok({a, b}, [=](fivo_ctx *c, const V &x) -> V {
                    return {fivo_matmul(c, x[0], ta, x[1], tb)};
                }, "matmul " + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) +
                       " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
            }
}

TEST_F(Autodiff, AddSubMulWithBroadcasts)
{
    for (auto s : kShapes) {
        const Shape bshapes[] = {{s.r, s.c}, {1, s.c}, {s.r, 1}};
        for (auto bs : bshapes) {
            auto a = gc::random_input(g, s.r, s.c), b = gc::random_input(g, bs.r, bs.c);
            std::string sh = std::to_string(s.r) + "x" + std::to_string(s.c) + " b " + std::to_string(bs.r) +
                             "x" + std::to_string(bs.c);
            expect_ok({a, b}, [](fivo_ctx *c, const V &x) -> V { return {fivo_add(c, x[0], x[1])}; }, "add " + sh);
            expect_ok({a, b}, [](fivo_ctx *c, const V &x) -> V { return {fivo_sub(c, x[0], x[1])}; }, "sub " + sh);
            expect_ok({a, b}, [](fivo_ctx *c, const V &x) -> V { return {fivo_mul(c, x[0], x[1])}; }, "mul " + sh);
        }
    }
}

TEST_F(Autodiff, ScalarOps)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c);
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_scale(c, x[0], -1.75f)}; }, "scale");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_add_scalar(c, x[0], 0.3f)}; }, "add_scalar");
        auto b = a;
        gc::avoid(b, 0.2f, 0.05f);
        expect_ok({b}, [](fivo_ctx *c, const V &x) -> V { return {fivo_clamp_min(c, x[0], 0.2f)}; }, "clamp_min");
    }
}

TEST_F(Autodiff, Activations)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c, -3.0f, 3.0f);
        auto k = a;
        gc::avoid(k, 0.0f, 0.05f);
        expect_ok({k}, [](fivo_ctx *c, const V &x) -> V { return {fivo_relu(c, x[0])}; }, "relu");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_sigmoid(c, x[0])}; }, "sigmoid");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_tanh(c, x[0])}; }, "tanh");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_softplus(c, x[0])}; }, "softplus");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_exp(c, x[0])}; }, "exp");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_square(c, x[0])}; }, "square");
        auto p = gc::random_input(g, s.r, s.c, 0.5f, 3.0f);
        expect_ok({p}, [](fivo_ctx *c, const V &x) -> V { return {fivo_log(c, x[0])}; }, "log", 1e-3);
    }
}

TEST_F(Autodiff, ConcatSliceReshape)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c), b = gc::random_input(g, s.r, 3), d = gc::random_input(g, s.r, 1);
        expect_ok({a, b, d}, [](fivo_ctx *c, const V &x) -> V {
            const fivo_tensor *parts[3] = {x[0], x[1], x[2]};
            return {fivo_concat_cols(c, 3, parts)};
        }, "concat");
        int c0 = s.c > 2 ? 1 : 0, n = s.c > 2 ? s.c - 2 : s.c;
        expect_ok({a}, [=](fivo_ctx *c, const V &x) -> V { return {fivo_slice_cols(c, x[0], c0, n)}; }, "slice");
        expect_ok({a}, [=](fivo_ctx *c, const V &x) -> V {
            // reshape then a value-dependent op so the alias is exercised
            return {fivo_square(c, fivo_reshape(c, x[0], s.c, s.r))};
        }, "reshape");
    }
}

TEST_F(Autodiff, Reductions)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c);
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_sum_cols(c, x[0])}; }, "sum_cols");
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V { return {fivo_sum_all(c, x[0])}; }, "sum_all");
    }
    const int gb[][2] = {{1, 1}, {4, 1}, {1, 3}, {5, 3}, {16, 4}};
    for (auto &q : gb) {
        auto a = gc::random_input(g, q[0] * q[1], 1, -4.0f, 4.0f);
        int groups = q[0];
        expect_ok({a}, [=](fivo_ctx *c, const V &x) -> V { return {fivo_logsumexp_groups(c, x[0], groups)}; },
                  "logsumexp_groups");
    }
}

TEST_F(Autodiff, GatherSelectStop)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c), b = gc::random_input(g, s.r, s.c);
        std::vector<int32_t> idx;
        std::uniform_int_distribution<int> pick(0, s.r - 1);
        for (int i = 0; i < s.r + 2; i++)
            idx.push_back(pick(g)); // repeats: backward must scatter-add
        expect_ok({a}, [=](fivo_ctx *c, const V &x) -> V {
            return {fivo_gather_rows(c, x[0], idx.data(), (int)idx.size())};
        }, "gather_rows");
        std::vector<uint8_t> mask(s.r);
        for (int r = 0; r < s.r; r++)
            mask[r] = (uint8_t)(r % 2);
        expect_ok({a, b}, [=](fivo_ctx *c, const V &x) -> V { return {fivo_select_rows(c, mask.data(), x[0], x[1])}; },
                  "select_rows");
        auto nb = b;
        nb.grad = false; // its numeric gradient is nonzero: only a's is checked here
        expect_ok({a, nb}, [](fivo_ctx *c, const V &x) -> V {
            return {fivo_mul(c, x[0], fivo_stop_gradient(c, x[1]))};
        }, "stop_gradient");
    }
}

TEST_F(Autodiff, StopGradientBlocks)
{
    fivo_tensor *a = fivo_tensor_fill(ctx, 2, 2, 3.0f);
    a->flags |= FIVO_TENSOR_REQUIRES_GRAD;
    fivo_tensor *y = fivo_sum_all(ctx, fivo_mul(ctx, a, fivo_stop_gradient(ctx, a)));
    ASSERT_EQ(fivo_ctx_backward(ctx, y, nullptr), FIVO_OK);
    ASSERT_NE(a->grad, nullptr);
    for (int i = 0; i < 4; i++)
        EXPECT_FLOAT_EQ(a->grad[i], 3.0f); // not 6: only the live path
}

TEST_F(Autodiff, ReusedTensorAccumulates)
{
    for (auto s : kShapes) {
        auto a = gc::random_input(g, s.r, s.c);
        expect_ok({a}, [](fivo_ctx *c, const V &x) -> V {
            fivo_tensor *t = fivo_tanh(c, x[0]);
            return {fivo_mul(c, t, fivo_add(c, t, x[0])), fivo_sigmoid(c, t)};
        }, "reuse");
    }
}

TEST_F(Autodiff, NormalLogProb)
{
    for (auto s : kShapes) {
        auto x = gc::random_input(g, s.r, s.c), mu = gc::random_input(g, s.r, s.c);
        auto sg = gc::random_input(g, s.r, s.c, 0.5f, 2.0f);
        expect_ok({x, mu, sg}, [](fivo_ctx *c, const V &v) -> V { return {fivo_normal_log_prob(c, v[0], v[1], v[2])}; },
                  "normal_log_prob");
        auto mu1 = gc::random_input(g, 1, s.c), sg1 = gc::random_input(g, 1, s.c, 0.5f, 2.0f);
        expect_ok({x, mu1, sg1}, [](fivo_ctx *c, const V &v) -> V { return {fivo_normal_log_prob(c, v[0], v[1], v[2])}; },
                  "normal_log_prob broadcast");
    }
}

TEST_F(Autodiff, BernoulliLogProb)
{
    for (auto s : kShapes) {
        auto l = gc::random_input(g, s.r, s.c, -4.0f, 4.0f);
        auto x = gc::random_input(g, s.r, s.c, 0.0f, 1.0f);
        for (auto &v : x.v)
            v = v > 0.5f ? 1.0f : 0.0f;
        x.grad = false;
        expect_ok({l, x}, [](fivo_ctx *c, const V &v) -> V { return {fivo_bernoulli_log_prob(c, v[0], v[1])}; },
                  "bernoulli_log_prob");
    }
}

TEST_F(Autodiff, NormalScaleAndSample)
{
    fivo_ctx_set_seed(ctx, 7, 3);
    for (auto s : kShapes) {
        auto raw = gc::random_input(g, s.r, s.c, -3.0f, 3.0f);
        // keep softplus(raw + 0.5) away from sigma_min = 0.3 (the max's kink)
        for (auto &v : raw.v)
            if (std::fabs(std::log1p(std::exp(v + 0.5f)) - 0.3f) < 0.03f)
                v += 0.2f;
        expect_ok({raw}, [](fivo_ctx *c, const V &v) -> V { return {fivo_normal_scale(c, v[0], 0.5f, 0.3f)}; },
                  "normal_scale");
        auto mu = gc::random_input(g, s.r, s.c), sg = gc::random_input(g, s.r, s.c, 0.5f, 2.0f);
        // same seed, purpose and t on every evaluation: the noise is fixed
        expect_ok({mu, sg}, [](fivo_ctx *c, const V &v) -> V {
            return {fivo_normal_sample(c, v[0], v[1], FIVO_RNG_PROPOSAL, 5)};
        }, "normal_sample");
        auto mu1 = gc::random_input(g, 1, s.c);
        expect_ok({mu1, sg}, [](fivo_ctx *c, const V &v) -> V {
            return {fivo_normal_sample(c, v[0], v[1], FIVO_RNG_PROPOSAL, 5)};
        }, "normal_sample broadcast mu");
    }
}

// The fused res_q draw: tape gradients of z and log p(z) - log q(z) to both
// heads, with and without a proposal and with a sigma_min floor in play.
TEST_F(Autodiff, NormalResQSample)
{
    fivo_ctx_set_seed(ctx, 11, 2);
    const Shape shapes[] = {{1, 2}, {3, 6}, {16, 18}};
    for (auto s : shapes) {
        for (float smin : {0.0f, 0.3f}) {
            auto P = gc::random_input(g, s.r, s.c), Q = gc::random_input(g, s.r, s.c);
            // keep softplus(raw + 0.5) away from the floor's kink
            for (auto *in : {&P, &Q})
                for (int r = 0; r < s.r; r++)
                    for (int j = s.c / 2; j < s.c; j++) {
                        float &v = in->v[(size_t)r * s.c + j];
                        if (std::fabs(std::log1p(std::exp(v + 0.5f)) - smin) < 0.03f)
                            v += 0.2f;
                    }
            expect_ok({P, Q}, [smin](fivo_ctx *c, const V &v) -> V {
                fivo_tensor *ratio = nullptr;
                fivo_tensor *z = fivo_normal_res_q_sample(c, v[0], v[1], 0.5f, smin,
                                                          FIVO_RNG_PROPOSAL, 4, &ratio);
                return {z, ratio};
            }, "normal_res_q_sample smin=" + std::to_string(smin));
            expect_ok({P}, [smin](fivo_ctx *c, const V &v) -> V {
                return {fivo_normal_res_q_sample(c, v[0], nullptr, 0.5f, smin, FIVO_RNG_PROPOSAL,
                                                 4, nullptr)};
            }, "normal_res_q_sample prior smin=" + std::to_string(smin));
        }
    }
}

// Against the unfused ops it replaces: z bit for bit, the log ratio to float
// rounding of the two separate log-densities.
TEST_F(Autodiff, NormalResQSampleMatchesUnfusedOps)
{
    fivo_ctx_set_seed(ctx, 5, 9);
    const int rows = 16, Z = 32;
    auto P = gc::random_input(g, rows, 2 * Z, -3.0f, 3.0f), Q = gc::random_input(g, rows, 2 * Z, -3.0f, 3.0f);
    fivo_tensor *p = fivo_tensor_from(ctx, rows, 2 * Z, P.v.data());
    fivo_tensor *q = fivo_tensor_from(ctx, rows, 2 * Z, Q.v.data());
    for (float smin : {0.0f, 0.4f}) {
        fivo_tensor *ratio = nullptr;
        fivo_tensor *z = fivo_normal_res_q_sample(ctx, p, q, 0.5f, smin, FIVO_RNG_PROPOSAL, 3, &ratio);
        fivo_tensor *p_mu = fivo_slice_cols(ctx, p, 0, Z);
        fivo_tensor *p_sg = fivo_normal_scale(ctx, fivo_slice_cols(ctx, p, Z, Z), 0.5f, smin);
        fivo_tensor *q_mu = fivo_add(ctx, fivo_slice_cols(ctx, q, 0, Z), p_mu);
        fivo_tensor *q_sg = fivo_normal_scale(ctx, fivo_slice_cols(ctx, q, Z, Z), 0.5f, smin);
        fivo_tensor *z2 = fivo_normal_sample(ctx, q_mu, q_sg, FIVO_RNG_PROPOSAL, 3);
        fivo_tensor *r2 = fivo_sub(ctx, fivo_normal_log_prob(ctx, z2, p_mu, p_sg),
                                   fivo_normal_log_prob(ctx, z2, q_mu, q_sg));
        for (size_t i = 0; i < fivo_tensor_size(z); i++)
            ASSERT_EQ(z->data[i], z2->data[i]) << i;
        for (int r = 0; r < rows; r++)
            EXPECT_NEAR(ratio->data[r], r2->data[r], 2e-6 * (std::fabs(r2->data[r]) + 30.0)) << r;
        fivo_tensor *zp = fivo_normal_res_q_sample(ctx, p, nullptr, 0.5f, smin, FIVO_RNG_PROPOSAL, 3,
                                                   &ratio);
        fivo_tensor *zp2 = fivo_normal_sample(ctx, p_mu, p_sg, FIVO_RNG_PROPOSAL, 3);
        for (size_t i = 0; i < fivo_tensor_size(zp); i++)
            ASSERT_EQ(zp->data[i], zp2->data[i]) << i;
        for (int r = 0; r < rows; r++)
            EXPECT_EQ(ratio->data[r], 0.0f);
    }
    fivo_tensor *ratio = nullptr;
    fivo_normal_res_q_sample(ctx, p, fivo_tensor_zeros(ctx, rows, Z), 0.5f, 0.0f, 1, 0, &ratio);
    EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_ERR_INVALID);
    EXPECT_EQ(ratio->rows, rows);
}

TEST_F(Autodiff, ShapeErrorsAreStickyAndReturnDummies)
{
    fivo_tensor *a = fivo_tensor_zeros(ctx, 3, 4), *b = fivo_tensor_zeros(ctx, 5, 2);
    fivo_tensor *y = fivo_matmul(ctx, a, false, b, false);
    ASSERT_NE(y, nullptr);
    EXPECT_EQ(y->rows, 3);
    EXPECT_EQ(y->cols, 2);
    fivo_tensor *z = fivo_add(ctx, a, b); // second error: first one wins
    ASSERT_NE(z, nullptr);
    fivo_error err;
    EXPECT_EQ(fivo_ctx_status(ctx, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("matmul"), std::string::npos) << err.message;
    fivo_tensor *l = fivo_sum_all(ctx, y);
    EXPECT_EQ(fivo_ctx_backward(ctx, l, &err), FIVO_ERR_INVALID);
    int32_t bad = 9;
    fivo_gather_rows(ctx, a, &bad, 1);
    fivo_ctx_reset(ctx);
    EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_OK);
    fivo_gather_rows(ctx, a, &bad, 1);
    EXPECT_EQ(fivo_ctx_status(ctx, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("index"), std::string::npos) << err.message;
}

TEST_F(Autodiff, NoTapeWhenGradDisabledOrNotRequired)
{
    fivo_tensor *a = fivo_tensor_fill(ctx, 2, 3, 1.0f);
    fivo_tensor *y = fivo_tanh(ctx, a);
    EXPECT_EQ(y->node, -1);
    EXPECT_FALSE(y->flags & FIVO_TENSOR_REQUIRES_GRAD);
    a->flags |= FIVO_TENSOR_REQUIRES_GRAD;
    fivo_ctx_set_grad_enabled(ctx, false);
    y = fivo_tanh(ctx, a);
    EXPECT_EQ(y->node, -1);
    fivo_ctx_set_grad_enabled(ctx, true);
    y = fivo_tanh(ctx, a);
    EXPECT_GE(y->node, 0);
}

TEST_F(Autodiff, ArenaGrowsKeepsPointersAndResets)
{
    fivo_ctx *c = fivo_ctx_new(4096, 0);
    fivo_tensor *first = fivo_tensor_fill(c, 4, 4, 2.0f);
    std::vector<fivo_tensor *> ts;
    for (int i = 0; i < 200; i++) {
        fivo_tensor *t = fivo_tensor_fill(c, 16, 33, (float)i);
        EXPECT_EQ(((uintptr_t)t->data) % 32, 0u);
        ts.push_back(t);
    }
    EXPECT_FLOAT_EQ(first->data[15], 2.0f);
    for (int i = 0; i < 200; i++)
        EXPECT_FLOAT_EQ(ts[i]->data[16 * 33 - 1], (float)i);
    size_t peak = fivo_ctx_peak_bytes(c);
    EXPECT_GE(peak, 200u * 16 * 33 * 4);
    fivo_ctx_reset(c);
    fivo_tensor *again = fivo_tensor_fill(c, 4, 4, 1.0f);
    EXPECT_EQ(again, first); // memory reused from the start
    fivo_ctx_free(c);

    fivo_ctx *lim = fivo_ctx_new(4096, 8192);
    for (int i = 0; i < 10; i++)
        fivo_tensor_zeros(lim, 16, 64);
    EXPECT_EQ(fivo_ctx_status(lim, nullptr), FIVO_ERR_NOMEM);
    fivo_ctx_free(lim);
}

} // namespace
