/* Private: branch-free float exp / sigmoid / tanh that the compiler can
 * vectorise (libm's calls cannot be), accurate to a few ulp (Cephes
 * polynomials). exp clamps its argument to [-87.3, 88]: fine for gates and
 * softplus, so fivo_exp and fivo_log keep using libm. */
#ifndef FIVO_FASTMATH_H
#define FIVO_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float fivo__fexp(float x)
{
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (no rint needed) */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = (int32_t)n + 127;
    uint32_t bits = (uint32_t)e << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fivo__fsigmoid(float x) { return 1.0f / (1.0f + fivo__fexp(-x)); }

static inline float fivo__ftanh(float x)
{
    float ax = x < 0.0f ? -x : x;
    /* small |x|: odd polynomial; otherwise 1 - 2 / (exp(2|x|) + 1) */
    float z = x * x;
    float s = -5.70498872745e-3f;
    s = s * z + 2.06390887954e-2f;
    s = s * z - 5.37397155531e-2f;
    s = s * z + 1.33314422036e-1f;
    s = s * z - 3.33332819422e-1f;
    s = s * z * x + x;
    float big = 1.0f - 2.0f / (fivo__fexp(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? s : big;
}

/* log(1 + t) for t in [0, 1] (added on branch vrnn for the Bernoulli
 * log-prob): 2 atanh(u) with u = t / (2 + t) <= 1/3, odd series to u^13;
 * relative error below 1e-7, branch-free and vectorisable. */
static inline float fivo__flog1p_unit(float t)
{
    float u = t / (2.0f + t), u2 = u * u;
    float p = 1.0f / 13.0f;
    p = p * u2 + 1.0f / 11.0f;
    p = p * u2 + 1.0f / 9.0f;
    p = p * u2 + 1.0f / 7.0f;
    p = p * u2 + 1.0f / 5.0f;
    p = p * u2 + 1.0f / 3.0f;
    p = p * u2 + 1.0f;
    return 2.0f * u * p;
}

#endif
