/* Private: helpers shared between core's op files. */
#ifndef FIVO_OPS_INTERNAL_H
#define FIVO_OPS_INTERNAL_H

#include "ctx_internal.h"
#include "fastmath.h"

#include <math.h>

/* x @ w + b (b may be NULL), then ReLU if asked; one tape node. */
/* The same plus pre (rows x out, or NULL) before the ReLU. */
FIVO_INTERNAL fivo_tensor *fivo__linear_pre(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                                            const fivo_tensor *b, const fivo_tensor *pre, bool relu);
FIVO_INTERNAL fivo_tensor *fivo__linear(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                                        const fivo_tensor *b, bool relu);
/* out[j] += sum_r g[r, j], accumulated in double. */
FIVO_INTERNAL void fivo__add_col_sums(fivo_ctx *ctx, const float *g, int rows, int cols, float *out);

/* mu + sigma * eps with the given noise (rows x mu->cols, kept by the
 * node); fivo_normal_sample draws eps and calls this. */
FIVO_INTERNAL fivo_tensor *fivo__normal_sample_eps(fivo_ctx *ctx, const fivo_tensor *mu,
                                                   const fivo_tensor *sigma, const float *eps, int rows);

static inline float fivo__sigmoidf(float x)
{
    /* exp of a non-positive argument only: no overflow for any x */
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline float fivo__softplusf(float x)
{
    /* Branch-free and vectorisable (fastmath.h); relative error ~1e-7. */
    return (x > 0.0f ? x : 0.0f) + fivo__flog1p_unit(fivo__fexp(-fabsf(x)));
}

#endif
