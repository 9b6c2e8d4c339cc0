// Adam: one and two steps against hand-computed TF ApplyAdam updates, a
// quadratic converges, global-norm clipping, and the NaN policy.
#include <gtest/gtest.h>

#include <fivo/fivo.h>
#include <fivo/internal/optim.h>

#include <cmath>

namespace {

TEST(Adam, Defaults)
{
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    EXPECT_EQ(o.beta1, 0.9);
    EXPECT_EQ(o.beta2, 0.999);
    EXPECT_EQ(o.epsilon, 1e-8);
    EXPECT_EQ(o.learning_rate, 0.0); // the caller's: no second default beside the host's row
    EXPECT_LE(o.clip_global_norm, 0.0);
}

TEST(Adam, TwoStepsMatchHandComputation)
{
    fivo_params *p = fivo_params_new(0);
    fivo_tensor *w = fivo_params_add(p, "w", 1, 3, FIVO_INIT_ZEROS, nullptr);
    const double w0[] = {1.0, -2.0, 0.5}, g[] = {0.5, -0.1, 3e-9};
    for (int i = 0; i < 3; i++)
        w->data[i] = (float)w0[i];
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    o.learning_rate = 0.1;
    fivo_adam *a = fivo_adam_new(p, &o);
    double m[3] = {0}, v[3] = {0}, ww[3] = {w0[0], w0[1], w0[2]};
    for (int t = 1; t <= 2; t++) {
        for (int i = 0; i < 3; i++)
            w->grad[i] = (float)g[i];
        double norm = 0;
        ASSERT_EQ(fivo_adam_step(a, &norm, nullptr), FIVO_OK);
        EXPECT_NEAR(norm, std::sqrt(0.25 + 0.01 + 9e-18), 1e-7);
        // TF keeps beta1, beta2 as float32 scalars: use their float values
        const double b1 = 0.9f, b2 = 0.999f;
        double lr_t = 0.1 * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
        for (int i = 0; i < 3; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            ww[i] -= lr_t * m[i] / (std::sqrt(v[i]) + 1e-8); // epsilon-hat form
            EXPECT_NEAR(w->data[i], ww[i], 2e-6 * std::fabs(ww[i])) << "step " << t << " i " << i;
            EXPECT_EQ(w->grad[i], 0.0f); // zeroed after the update
            EXPECT_NEAR(fivo_adam_moment(a, 0, 0)[i], m[i], 1e-6 * std::fabs(m[i]) + 1e-20);
            EXPECT_NEAR(fivo_adam_moment(a, 0, 1)[i], v[i], 1e-6 * std::fabs(v[i]) + 1e-30);
        }
        // tiny gradient: epsilon dominates, so the step is far below lr
        EXPECT_LT(std::fabs(w->data[2] - w0[2]), 0.05);
    }
    EXPECT_EQ(fivo_adam_get_step(a), 2u);
    fivo_adam_free(a);
    fivo_params_free(p);
}

TEST(Adam, QuadraticConverges)
{
    fivo_params *p = fivo_params_new(1);
    fivo_tensor *w = fivo_params_add(p, "w", 2, 3, FIVO_INIT_NORMAL, nullptr);
    fivo_ctx *ctx = fivo_ctx_new(1 << 12, 0);
    const float target[] = {1, -2, 3, 0.5f, -0.25f, 4};
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    o.learning_rate = 0.05;
    fivo_adam *a = fivo_adam_new(p, &o);
    double loss = 0;
    for (int step = 0; step < 3000; step++) {
        fivo_tensor *d = fivo_sub(ctx, w, fivo_tensor_from(ctx, 2, 3, target));
        fivo_tensor *l = fivo_sum_all(ctx, fivo_square(ctx, d));
        loss = l->data[0];
        ASSERT_EQ(fivo_ctx_backward(ctx, l, nullptr), FIVO_OK);
        ASSERT_EQ(fivo_adam_step(a, nullptr, nullptr), FIVO_OK);
        fivo_ctx_reset(ctx);
    }
    EXPECT_LT(loss, 1e-6);
    for (int i = 0; i < 6; i++)
        EXPECT_NEAR(w->data[i], target[i], 1e-3);
    fivo_adam_free(a);
    fivo_ctx_free(ctx);
    fivo_params_free(p);
}

TEST(Adam, GlobalNormClipping)
{
    fivo_params *p = fivo_params_new(0);
    fivo_tensor *w1 = fivo_params_add(p, "a", 1, 1, FIVO_INIT_ZEROS, nullptr);
    fivo_tensor *w2 = fivo_params_add(p, "b", 1, 1, FIVO_INIT_ZEROS, nullptr);
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    EXPECT_EQ(fivo_adam_new(p, &o), nullptr); // no learning rate given: refused, not defaulted
    EXPECT_EQ(fivo_adam_new(p, nullptr), nullptr);
    o.learning_rate = 1e-4;
    o.clip_global_norm = 1.0;
    fivo_adam *a = fivo_adam_new(p, &o);
    w1->grad[0] = 3.0f;
    w2->grad[0] = 4.0f;
    double norm = 0;
    ASSERT_EQ(fivo_adam_step(a, &norm, nullptr), FIVO_OK);
    EXPECT_DOUBLE_EQ(norm, 5.0); // before clipping
    EXPECT_NEAR(fivo_adam_moment(a, 0, 0)[0], 0.1 * 0.6, 1e-7);
    EXPECT_NEAR(fivo_adam_moment(a, 1, 0)[0], 0.1 * 0.8, 1e-7);
    fivo_adam_free(a);
    fivo_params_free(p);
}

TEST(Adam, NonFiniteGradientChangesNothing)
{
    fivo_params *p = fivo_params_new(0);
    fivo_tensor *w1 = fivo_params_add(p, "model/ok", 1, 2, FIVO_INIT_NORMAL, nullptr);
    fivo_tensor *w2 = fivo_params_add(p, "model/bad", 1, 2, FIVO_INIT_NORMAL, nullptr);
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    o.learning_rate = 1e-4;
    fivo_adam *a = fivo_adam_new(p, &o);
    float before[4] = {w1->data[0], w1->data[1], w2->data[0], w2->data[1]};
    for (float bad : {NAN, INFINITY}) {
        w1->grad[0] = 1.0f;
        w2->grad[1] = bad;
        fivo_error err;
        EXPECT_EQ(fivo_adam_step(a, nullptr, &err), FIVO_ERR_NUMERIC);
        EXPECT_NE(std::string(err.message).find("model/bad"), std::string::npos) << err.message;
        EXPECT_EQ(w1->data[0], before[0]);
        EXPECT_EQ(w1->data[1], before[1]);
        EXPECT_EQ(w2->data[0], before[2]);
        EXPECT_EQ(w2->data[1], before[3]);
        EXPECT_EQ(fivo_adam_get_step(a), 0u);
        EXPECT_EQ(fivo_adam_moment(a, 0, 0)[0], 0.0f);
        EXPECT_EQ(w2->grad[1], 0.0f); // poisoned gradient dropped
    }
    fivo_adam_free(a);
    fivo_params_free(p);
}

} // namespace
