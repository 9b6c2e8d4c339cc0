// Layers and the parameter store: gradient checks of Linear, MLP and the
// fused LSTM cell (inputs and parameters; error bound as in test_autodiff),
// the LSTM's forward against hand-computed values, parameter naming and
// order-independent initialisation.
#include <gtest/gtest.h>

#include "gradcheck.h"

#include <fivo/fivo.h>

#include <cmath>

namespace {

constexpr double kTol = 5e-3;
constexpr double kFloor = 0.1;
using V = std::vector<fivo_tensor *>;

struct Fixture : ::testing::Test {
    void SetUp() override
    {
        ctx = fivo_ctx_new(1 << 16, 0);
        p = fivo_params_new(11);
    }
    void TearDown() override
    {
        fivo_params_free(p);
        fivo_ctx_free(ctx);
    }
    void check(std::vector<gc::Input> in, std::vector<fivo_tensor *> params, gc::Fn fn, const std::string &what, double h = 1e-2)
    {
        gc::Checker ch(ctx, std::move(in), std::move(params), std::move(fn));
        gc::Result r = ch.run(h, kFloor);
        EXPECT_EQ(ch.status, FIVO_OK) << what;
        EXPECT_LT(r.max_err, kTol) << what << ": " << r.where;
    }
    // Random nonzero biases so their gradients matter.
    void randomise(fivo_tensor *t, float scale)
    {
        std::uniform_real_distribution<float> u(-scale, scale);
        for (size_t i = 0; i < fivo_tensor_size(t); i++)
            t->data[i] = u(g);
    }
    fivo_ctx *ctx;
    fivo_params *p;
    std::mt19937 g{5};
};

using Layers = Fixture;

TEST_F(Layers, LinearGradients)
{
    const int shapes[][3] = {{1, 3, 5}, {16, 9, 4}, {7, 1, 1}};
    int k = 0;
    for (auto &s : shapes) {
        fivo_linear l;
        ASSERT_EQ(fivo_linear_init(&l, p, ("lin" + std::to_string(k++)).c_str(), s[1], s[2], nullptr), FIVO_OK);
        randomise(l.b, 0.5f);
        check({gc::random_input(g, s[0], s[1])}, {l.w, l.b},
              [&l](fivo_ctx *c, const V &x) -> V { return {fivo_linear_forward(c, &l, x[0])}; }, "linear");
    }
}

TEST_F(Layers, MlpGradients)
{
    fivo_mlp m;
    const int sizes[] = {7, 5, 3};
    ASSERT_EQ(fivo_mlp_init(&m, p, "net", 4, sizes, 3, nullptr), FIVO_OK);
    EXPECT_NE(fivo_params_find(p, "net/fc1/w"), nullptr);
    EXPECT_NE(fivo_params_find(p, "net/fc3/b"), nullptr);
    EXPECT_EQ(fivo_params_find(p, "net/fc4/w"), nullptr);
    std::vector<fivo_tensor *> ps;
    for (int i = 0; i < 3; i++) {
        randomise(m.layers[i].b, 0.3f);
        ps.push_back(m.layers[i].w);
        ps.push_back(m.layers[i].b);
    }
    for (int rows : {1, 6}) {
        // Random inputs can put a hidden pre-activation near ReLU's kink;
        // the seed is fixed, so the check is deterministic.
        check({gc::random_input(g, rows, 4)}, ps,
              [&m](fivo_ctx *c, const V &x) -> V { return {fivo_mlp_forward(c, &m, x[0])}; }, "mlp", 1e-3);
    }
}

// The fused layer nodes against the same network built from checked ops.
TEST_F(Layers, MlpMatchesUnfusedComposition)
{
    fivo_mlp m;
    const int sizes[] = {9, 6, 5};
    ASSERT_EQ(fivo_mlp_init(&m, p, "net", 8, sizes, 3, nullptr), FIVO_OK);
    for (int i = 0; i < 3; i++)
        randomise(m.layers[i].b, 0.3f);
    auto x = gc::random_input(g, 16, 8);
    std::vector<std::vector<float>> grads[2];
    std::vector<float> outs[2];
    for (int fused = 0; fused < 2; fused++) {
        fivo_params_zero_grad(p);
        fivo_ctx_reset(ctx);
        fivo_tensor *h = fivo_tensor_from(ctx, 16, 8, x.v.data());
        if (fused) {
            h = fivo_mlp_forward(ctx, &m, h);
        } else {
            for (int i = 0; i < 3; i++) {
                h = fivo_add(ctx, fivo_matmul(ctx, h, false, m.layers[i].w, false), m.layers[i].b);
                if (i < 2)
                    h = fivo_relu(ctx, h);
            }
        }
        outs[fused].assign(h->data, h->data + fivo_tensor_size(h));
        ASSERT_EQ(fivo_ctx_backward(ctx, fivo_sum_all(ctx, fivo_square(ctx, h)), nullptr), FIVO_OK);
        for (int i = 0; i < 3; i++) {
            grads[fused].emplace_back(m.layers[i].w->grad, m.layers[i].w->grad + fivo_tensor_size(m.layers[i].w));
            grads[fused].emplace_back(m.layers[i].b->grad, m.layers[i].b->grad + fivo_tensor_size(m.layers[i].b));
        }
    }
    for (size_t i = 0; i < outs[0].size(); i++)
        EXPECT_NEAR(outs[0][i], outs[1][i], 1e-6);
    for (size_t k = 0; k < grads[0].size(); k++)
        for (size_t i = 0; i < grads[0][k].size(); i++)
            EXPECT_NEAR(grads[0][k][i], grads[1][k][i], 1e-5 * (1 + std::fabs(grads[0][k][i]))) << k << " " << i;
}

TEST_F(Layers, LstmGradients)
{
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 4}, {16, 3, 7}};
    int k = 0;
    for (auto &s : shapes) {
        fivo_lstm l;
        ASSERT_EQ(fivo_lstm_init(&l, p, ("lstm" + std::to_string(k++)).c_str(), s[1], s[2], nullptr), FIVO_OK);
        EXPECT_EQ(l.kernel->rows, s[1] + s[2]);
        EXPECT_EQ(l.kernel->cols, 4 * s[2]);
        randomise(l.bias, 0.5f);
        auto x = gc::random_input(g, s[0], s[1]), h = gc::random_input(g, s[0], s[2], -0.9f, 0.9f),
             c = gc::random_input(g, s[0], s[2]);
        gc::Fn both = [&l](fivo_ctx *cx, const V &v) -> V {
            fivo_tensor *ho, *co;
            fivo_lstm_forward(cx, &l, v[0], v[1], v[2], &ho, &co);
            return {ho, co};
        };
        check({x, h, c}, {l.kernel, l.bias}, both, "lstm h and c");
        gc::Fn only_h = [&l](fivo_ctx *cx, const V &v) -> V {
            fivo_tensor *ho, *co;
            fivo_lstm_forward(cx, &l, v[0], v[1], v[2], &ho, &co);
            return {ho};
        };
        check({x, h, c}, {l.kernel, l.bias}, only_h, "lstm h only");
        gc::Fn unrolled = [&l](fivo_ctx *cx, const V &v) -> V { // two steps: c' feeds the next cell
            fivo_tensor *h1, *c1, *h2, *c2;
            fivo_lstm_forward(cx, &l, v[0], v[1], v[2], &h1, &c1);
            fivo_lstm_forward(cx, &l, v[0], h1, c1, &h2, &c2);
            return {h2, c2};
        };
        check({x, h, c}, {l.kernel, l.bias}, unrolled, "lstm two steps");
    }
}

// The LSTM with a precomputed input part, as the VRNN uses it: pre = rows
// gathered from (shared inputs) @ fivo_param_rows(kernel, 0, pre_cols). Same
// values as the plain cell on the concatenated input, and gradients to the
// shared inputs, the rest of x, h, c, the kernel (both row blocks) and bias.
TEST_F(Layers, LstmPreGradientsAndValues)
{
    const int shapes[][4] = {{3, 5, 4, 2}, {16, 3, 7, 3}, {4, 2, 3, 1}}; // rows, in, hidden, pre_cols
    int k = 0;
    for (auto &s : shapes) {
        int rows = s[0], In = s[1], H = s[2], P = s[3], shared = 2;
        fivo_lstm l;
        ASSERT_EQ(fivo_lstm_init(&l, p, ("lstm_pre" + std::to_string(k++)).c_str(), In, H, nullptr), FIVO_OK);
        randomise(l.bias, 0.5f);
        auto xs = gc::random_input(g, shared, P), xr = gc::random_input(g, rows, std::max(In - P, 1)),
             h = gc::random_input(g, rows, H, -0.9f, 0.9f), c = gc::random_input(g, rows, H);
        std::vector<int32_t> idx(rows);
        for (int r = 0; r < rows; r++)
            idx[r] = r % shared;
        auto pre_step = [&l, idx, P, In, rows](fivo_ctx *cx, const V &v) -> V {
            fivo_tensor *pre = fivo_gather_rows(
                cx, fivo_matmul(cx, v[0], false, fivo_param_rows(cx, l.kernel, 0, P), false), idx.data(), rows);
            fivo_tensor *ho, *co;
            fivo_lstm_forward_pre(cx, &l, pre, P, P < In ? v[1] : nullptr, v[2], v[3], &ho, &co);
            return {ho, co};
        };
        gc::Input xr_in = xr;
        xr_in.grad = P < In;
        check({xs, xr_in, h, c}, {l.kernel, l.bias}, pre_step, "lstm_pre pre_cols=" + std::to_string(P));
        // values against the plain cell on [xs gathered, xr]
        fivo_ctx_reset(ctx);
        fivo_tensor *XS = fivo_tensor_from(ctx, shared, P, xs.v.data());
        fivo_tensor *XR = fivo_tensor_from(ctx, rows, xr.cols, xr.v.data());
        fivo_tensor *Hh = fivo_tensor_from(ctx, rows, H, h.v.data()), *C = fivo_tensor_from(ctx, rows, H, c.v.data());
        V outs = pre_step(ctx, {XS, XR, Hh, C});
        const fivo_tensor *parts[2] = {fivo_gather_rows(ctx, XS, idx.data(), rows), XR};
        fivo_tensor *full = P < In ? fivo_concat_cols(ctx, 2, parts) : fivo_gather_rows(ctx, XS, idx.data(), rows);
        fivo_tensor *ho, *co;
        fivo_lstm_forward(ctx, &l, full, Hh, C, &ho, &co);
        for (int i = 0; i < rows * H; i++) {
            EXPECT_NEAR(outs[0]->data[i], ho->data[i], 1e-6);
            EXPECT_NEAR(outs[1]->data[i], co->data[i], 1e-6);
        }
        EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_OK);
    }
}

// A layer over [x, e] split as x @ w[:k] + (e @ w[k:]) gathered: values of
// the concatenated layer, gradients to x, e, both row blocks of w and b.
TEST_F(Layers, LinearPreGradientsAndValues)
{
    const int rows = 8, kx = 3, ke = 4, out = 5, shared = 2;
    fivo_linear l;
    ASSERT_EQ(fivo_linear_init(&l, p, "split", kx + ke, out, nullptr), FIVO_OK);
    randomise(l.b, 0.5f);
    std::vector<int32_t> idx(rows);
    for (int r = 0; r < rows; r++)
        idx[r] = (r * 3) % shared;
    // inputs whose pre-activations keep clear of the ReLU's kink
    gc::Input x, e;
    for (int tries = 0; tries < 200; tries++) {
        x = gc::random_input(g, rows, kx), e = gc::random_input(g, shared, ke);
        fivo_ctx_reset(ctx);
        const fivo_tensor *parts[2] = {fivo_tensor_from(ctx, rows, kx, x.v.data()),
                                       fivo_gather_rows(ctx, fivo_tensor_from(ctx, shared, ke, e.v.data()),
                                                        idx.data(), rows)};
        fivo_tensor *ref = fivo_linear_forward(ctx, &l, fivo_concat_cols(ctx, 2, parts));
        float gap = 1.0f;
        for (int i = 0; i < rows * out; i++)
            gap = std::min(gap, std::fabs(ref->data[i]));
        if (gap > 0.05f)
            break;
    }
    for (bool relu : {false, true}) {
        auto split = [&l, idx, relu](fivo_ctx *cx, const V &v) -> V {
            fivo_tensor *pre = fivo_gather_rows(
                cx, fivo_matmul(cx, v[1], false, fivo_param_rows(cx, l.w, kx, ke), false), idx.data(), rows);
            return {fivo_linear_pre(cx, v[0], fivo_param_rows(cx, l.w, 0, kx), l.b, pre, relu)};
        };
        check({x, e}, {l.w, l.b}, split, relu ? "linear_pre relu" : "linear_pre");
        fivo_ctx_reset(ctx);
        fivo_tensor *X = fivo_tensor_from(ctx, rows, kx, x.v.data()), *E = fivo_tensor_from(ctx, shared, ke, e.v.data());
        fivo_tensor *y = split(ctx, {X, E})[0];
        const fivo_tensor *parts[2] = {X, fivo_gather_rows(ctx, E, idx.data(), rows)};
        fivo_tensor *ref = fivo_linear_forward(ctx, &l, fivo_concat_cols(ctx, 2, parts));
        for (int i = 0; i < rows * out; i++)
            EXPECT_NEAR(y->data[i], relu ? std::max(ref->data[i], 0.0f) : ref->data[i], 1e-6);
    }
    // a view of anything but a parameter, or outside it, is a sticky error
    fivo_ctx_reset(ctx);
    fivo_tensor *v = fivo_param_rows(ctx, fivo_tensor_zeros(ctx, 4, 2), 0, 2);
    EXPECT_EQ(v->cols, 2);
    fivo_error err;
    EXPECT_EQ(fivo_ctx_status(ctx, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("param_rows"), std::string::npos);
    fivo_ctx_reset(ctx);
    fivo_param_rows(ctx, l.w, 5, 3);
    EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_ERR_INVALID);
}

TEST_F(Layers, LstmForwardMatchesHandComputation)
{
    fivo_lstm l;
    ASSERT_EQ(fivo_lstm_init(&l, p, "cell", 1, 2, nullptr), FIVO_OK);
    const float K[3][8] = {{0.5f, -0.3f, 0.2f, 0.1f, -0.4f, 0.7f, 0.05f, -0.2f},
                           {0.4f, 0.6f, -0.5f, 0.3f, 0.1f, -0.1f, 0.2f, 0.25f},
                           {-0.2f, 0.1f, 0.3f, -0.6f, 0.5f, 0.2f, -0.3f, 0.4f}};
    const float b[8] = {0.1f, 0.0f, -0.1f, 0.2f, 0.05f, -0.05f, 0.0f, 0.3f};
    memcpy(l.kernel->data, K, sizeof K);
    memcpy(l.bias->data, b, sizeof b);
    const float xv[1] = {1.0f}, hv[2] = {0.5f, -0.25f}, cv[2] = {-0.2f, 0.7f};
    fivo_tensor *x = fivo_tensor_from(ctx, 1, 1, xv), *h = fivo_tensor_from(ctx, 1, 2, hv),
                *c = fivo_tensor_from(ctx, 1, 2, cv), *ho, *co;
    fivo_lstm_forward(ctx, &l, x, h, c, &ho, &co);
    // z = [x, h] K + b split i, j, f, o; c' = s(f + 1) c + s(i) tanh(j); h' = s(o) tanh(c')
    // (values worked out in double by hand-written Python)
    EXPECT_NEAR(co->data[0], -0.2830036432941785, 2e-7);
    EXPECT_NEAR(co->data[1], 0.8426080108003491, 2e-7);
    EXPECT_NEAR(ho->data[0], -0.1532834304561382, 2e-7);
    EXPECT_NEAR(ho->data[1], 0.36504068947987894, 2e-7);
    EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_OK);
}

TEST_F(Layers, LstmShapeErrorIsSticky)
{
    fivo_lstm l;
    ASSERT_EQ(fivo_lstm_init(&l, p, "cell", 3, 4, nullptr), FIVO_OK);
    fivo_tensor *x = fivo_tensor_zeros(ctx, 2, 5), *h = fivo_tensor_zeros(ctx, 2, 4), *ho, *co;
    fivo_lstm_forward(ctx, &l, x, h, h, &ho, &co);
    ASSERT_NE(ho, nullptr);
    ASSERT_NE(co, nullptr);
    EXPECT_EQ(ho->rows, 2);
    EXPECT_EQ(ho->cols, 4);
    fivo_error err;
    EXPECT_EQ(fivo_ctx_status(ctx, &err), FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("lstm"), std::string::npos);
}

TEST(Params, NamesInitAndOrderIndependence)
{
    fivo_params *a = fivo_params_new(3), *b = fivo_params_new(3), *c = fivo_params_new(4);
    fivo_error err;
    fivo_tensor *a1 = fivo_params_add(a, "vrnn/prior/fc1/w", 20, 30, FIVO_INIT_XAVIER_UNIFORM, &err);
    fivo_tensor *a2 = fivo_params_add(a, "vrnn/prior/fc1/b", 1, 30, FIVO_INIT_ZEROS, &err);
    fivo_tensor *b2 = fivo_params_add(b, "vrnn/prior/fc1/b", 1, 30, FIVO_INIT_ZEROS, &err);
    fivo_tensor *b1 = fivo_params_add(b, "vrnn/prior/fc1/w", 20, 30, FIVO_INIT_XAVIER_UNIFORM, &err);
    fivo_tensor *c1 = fivo_params_add(c, "vrnn/prior/fc1/w", 20, 30, FIVO_INIT_XAVIER_UNIFORM, &err);
    ASSERT_TRUE(a1 && a2 && b1 && b2 && c1);
    EXPECT_EQ(memcmp(a1->data, b1->data, 600 * sizeof(float)), 0); // creation order irrelevant
    EXPECT_NE(memcmp(a1->data, c1->data, 600 * sizeof(float)), 0); // seed matters
    double lim = std::sqrt(6.0 / 50.0), mean = 0, mx = 0;
    for (int i = 0; i < 600; i++) {
        mean += a1->data[i] / 600.0;
        mx = std::max(mx, (double)std::fabs(a1->data[i]));
        EXPECT_EQ(a1->grad[i], 0.0f);
    }
    EXPECT_LE(mx, lim);
    EXPECT_GT(mx, 0.9 * lim);
    EXPECT_NEAR(mean, 0.0, 0.05);
    for (int i = 0; i < 30; i++)
        EXPECT_EQ(a2->data[i], 0.0f);
    EXPECT_EQ((uintptr_t)a1->data % 32, 0u);
    EXPECT_EQ((uintptr_t)a1->grad % 32, 0u);
    EXPECT_EQ(a1->flags, (uint32_t)(FIVO_TENSOR_PARAM | FIVO_TENSOR_REQUIRES_GRAD));
    EXPECT_EQ(fivo_params_count(a), 2);
    EXPECT_EQ(fivo_params_num_values(a), 630u);
    const char *name = nullptr;
    EXPECT_EQ(fivo_params_at(a, 1, &name), a2);
    EXPECT_STREQ(name, "vrnn/prior/fc1/b");
    EXPECT_EQ(fivo_params_find(a, "vrnn/prior/fc1/w"), a1);
    EXPECT_EQ(fivo_params_add(a, "vrnn/prior/fc1/w", 2, 2, FIVO_INIT_ZEROS, &err), nullptr);
    EXPECT_EQ(err.code, FIVO_ERR_INVALID);
    EXPECT_NE(std::string(err.message).find("vrnn/prior/fc1/w"), std::string::npos);
    EXPECT_EQ(fivo_params_add(a, "bad", 0, 2, FIVO_INIT_ZEROS, &err), nullptr);
    // pointers stay valid as the store grows
    for (int i = 0; i < 100; i++)
        fivo_params_add(a, ("extra/" + std::to_string(i)).c_str(), 1, 1, FIVO_INIT_NORMAL, &err);
    EXPECT_EQ(fivo_params_find(a, "vrnn/prior/fc1/w"), a1);
    a1->grad[5] = 2.0f;
    fivo_params_zero_grad(a);
    EXPECT_EQ(a1->grad[5], 0.0f);
    fivo_params_free(a);
    fivo_params_free(b);
    fivo_params_free(c);
}

TEST(Params, GradientsAccumulateAcrossResets)
{
    fivo_params *p = fivo_params_new(1);
    fivo_ctx *ctx = fivo_ctx_new(1 << 12, 0);
    fivo_tensor *w = fivo_params_add(p, "w", 1, 3, FIVO_INIT_ZEROS, nullptr);
    for (int step = 0; step < 2; step++) {
        fivo_tensor *l = fivo_sum_all(ctx, fivo_scale(ctx, w, 2.0f));
        ASSERT_EQ(fivo_ctx_backward(ctx, l, nullptr), FIVO_OK);
        fivo_ctx_reset(ctx);
    }
    for (int i = 0; i < 3; i++)
        EXPECT_FLOAT_EQ(w->grad[i], 4.0f);
    fivo_ctx_free(ctx);
    fivo_params_free(p);
}

} // namespace
