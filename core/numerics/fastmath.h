/* Private: branch-free float exp / sigmoid / tanh that the compiler can
 * vectorise (libm's calls cannot be), accurate to a few ulp (Cephes
 * polynomials). exp clamps its argument to [-87.3, 88]: fine for gates and
 * softplus, so fivo_exp and fivo_log keep using libm. */
#ifndef FIVO_FASTMATH_H
#define FIVO_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* An elementwise kernel: not inlined (so its restrict parameters hold and
 * GCC vectorises the loops without run-time alias checks) and, with GCC on
 * x86-64, cloned for AVX-512 and AVX2 and picked once at load time. The numeric files
 * build with -ffp-contract=off (core/CMakeLists.txt), so no clone fuses a
 * multiply-add: every clone does the same IEEE operations in the same order
 * and gives the same bits, only more lanes at a time. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FIVO_NO_TARGET_CLONES)
#define FIVO_KERNEL __attribute__((noinline, target_clones("avx512f", "avx2", "default")))
#else
#define FIVO_KERNEL __attribute__((noinline))
#endif

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

/* Natural log for positive normal floats (Cephes logf: mantissa in
 * [sqrt(1/2), sqrt(2)), degree-8 polynomial), branch-free and vectorisable;
 * relative error below 2e-7 (tests/test_fastmath.cc). Zero, denormals,
 * infinities and NaN are outside its domain: callers pass values such as
 * softplus scales, which are >= FLT_MIN by construction (fivo__fexp clamps). */
static inline float fivo__flog(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = (int32_t)((bits >> 23) & 0xffu) - 126;
    bits = (bits & 0x807fffffu) | 0x3f000000u; /* mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    int32_t small = m < 0.707106781186547524f;
    float fe = (float)(e - small);
    m = (small ? m + m : m) - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    return m + y + fe * 0.693359375f;
}

/* sin(2 pi t) and cos(2 pi t) for t in [0, 1), branch-free: t - q / 4 with
 * q = round(4 t) is exact, leaving x = 2 pi r in [-pi/4, pi/4] for Cephes'
 * sinf/cosf polynomials; the quadrant q swaps and negates. Absolute error
 * below 3e-7 (tests/test_fastmath.cc); used by
 * core/rng.c's Box-Muller. */
static inline void fivo__fsincos_2pi(float t, float *s, float *c)
{
    float q = (t * 4.0f + 12582912.0f) - 12582912.0f; /* round(4 t), 0..4 */
    float x = (t - q * 0.25f) * 6.28318530717958648f;
    float z = x * x;
    float sn = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * x + x;
    float cs = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) *
                   z * z - 0.5f * z + 1.0f;
    int32_t k = (int32_t)q & 3;
    float a = (k & 1) ? cs : sn, b = (k & 1) ? sn : cs; /* sin, cos of the angle mod pi */
    *s = (k & 2) ? -a : a;
    *c = ((k + 1) & 2) ? -b : b;
}

/* sum of x[0..n) in double with eight independent accumulators (combined
 * in a fixed order), so the adds do not wait on each other: a row sum of a
 * log-density is then a few vector adds instead of a chain of n dependent
 * double adds. Deterministic; the accumulators are plain scalars, so any
 * vectorisation keeps each one's order. */
static inline double fivo__sum_double(const float *x, int n)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++)
            a[k] += (double)x[j + k];
    for (int k = 0; j < n; j++, k++)
        a[k] += (double)x[j];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#endif
