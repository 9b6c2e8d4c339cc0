// The vectorisable exp / sigmoid / tanh used by the LSTM gates and the
// activation ops, against double-precision libm over a dense range.
#include <gtest/gtest.h>

extern "C" {
#include "fastmath.h"
}

#include <cmath>

TEST(FastMath, ExpSigmoidTanhAccuracy)
{
    double max_exp = 0, max_sig = 0, max_tanh = 0;
    for (double x = -80.0; x <= 80.0; x += 0.000731) {
        float xf = (float)x;
        double e = std::exp((double)xf);
        max_exp = std::max(max_exp, std::fabs(fivo__fexp(xf) - e) / e);
        double s = 1.0 / (1.0 + std::exp(-(double)xf));
        max_sig = std::max(max_sig, std::fabs(fivo__fsigmoid(xf) - s) / s);
        double t = std::tanh((double)xf);
        // relative where tanh is not tiny, absolute near zero
        max_tanh = std::max(max_tanh, std::fabs(fivo__ftanh(xf) - t) / std::max(std::fabs(t), 1e-3));
    }
    // float epsilon is 1.19e-7: a few ulp at most
    EXPECT_LT(max_exp, 4e-7);
    EXPECT_LT(max_sig, 6e-7);
    EXPECT_LT(max_tanh, 6e-7);
    EXPECT_EQ(fivo__ftanh(0.0f), 0.0f);
    EXPECT_EQ(fivo__ftanh(30.0f), 1.0f);
    EXPECT_EQ(fivo__ftanh(-30.0f), -1.0f);
    EXPECT_EQ(fivo__fsigmoid(200.0f), 1.0f);
    EXPECT_GE(fivo__fsigmoid(-200.0f), 0.0f);
    EXPECT_LT(fivo__fsigmoid(-200.0f), 1e-37f);
    EXPECT_FLOAT_EQ(fivo__ftanh(1e-5f), 1e-5f);
}

// The float log behind the fused Normal ops, over the positive normal floats
// (dense near 1, then every binade up to FLT_MAX and down to FLT_MIN).
TEST(FastMath, LogAccuracy)
{
    double max_rel = 0, max_abs = 0;
    auto check = [&](float x) {
        double l = std::log((double)x);
        double e = std::fabs(fivo__flog(x) - l);
        if (std::fabs(l) < 1.0)
            max_abs = std::max(max_abs, e);
        if (std::fabs(l) > 1e-3)
            max_rel = std::max(max_rel, e / std::fabs(l));
    };
    for (double x = 0.25; x <= 4.0; x += 1.37e-5)
        check((float)x);
    for (float x = 1.17549435e-38f; x < 3e38f; x *= 1.0009765625f)
        check(x);
    check(3.40282347e38f);
    EXPECT_LT(max_rel, 2e-7);
    EXPECT_LT(max_abs, 1.2e-7); // near 1, where the relative error means little
    EXPECT_EQ(fivo__flog(1.0f), 0.0f);
}

// sin and cos of 2 pi t for the Box-Muller angle, over t in [0, 1).
TEST(FastMath, SinCos2PiAccuracy)
{
    double max_err = 0;
    for (double t = 0.0; t < 1.0; t += 1.0 / 1048576.0 + 1e-9) {
        float s, c;
        fivo__fsincos_2pi((float)t, &s, &c);
        double a = 2.0 * M_PI * (double)(float)t;
        max_err = std::max(max_err, std::fabs(s - std::sin(a)));
        max_err = std::max(max_err, std::fabs(c - std::cos(a)));
    }
    EXPECT_LT(max_err, 3e-7);
    float s, c;
    fivo__fsincos_2pi(0.0f, &s, &c);
    EXPECT_EQ(s, 0.0f);
    EXPECT_EQ(c, 1.0f);
    fivo__fsincos_2pi(0.25f, &s, &c);
    EXPECT_EQ(s, 1.0f);
    EXPECT_EQ(std::fabs(c), 0.0f);
}
