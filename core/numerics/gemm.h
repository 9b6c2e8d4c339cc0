/* Private: the tape's products (see gemm.c). */
#ifndef FIVO_GEMM_H
#define FIVO_GEMM_H

#include "ctx_internal.h"

/* Output columns per sgemm call: fixed, so bits do not depend on threads. */
#define FIVO_GEMM_BLOCK 64
/* m * n * k below which a product is one sgemm call on the calling thread. */
#define FIVO_GEMM_PARALLEL_MIN (256.0 * 1024.0)

/* Row-major C (m x n, ldc) = op(A) op(B) + beta C, alpha 1. */
FIVO_INTERNAL void fivo__sgemm(fivo_ctx *ctx, bool ta, bool tb, int m, int n, int k, const float *a,
                               int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Deferred weight gradients: dst (in x out, row stride ld) += x^T g, where
 * x is rows x in (row stride ldx) and g rows x out (contiguous). Parameter
 * gradients are read by no node, so the parts of every step are kept and
 * summed at the end of backward as one product with K = all their rows. */
FIVO_INTERNAL void fivo__defer_wgrad(fivo_ctx *ctx, float *dst, int ld, int in, int out,
                                     const float *x, int ldx, const float *g, int rows);
/* dst (1 x out) += column sums of g (rows x out), likewise deferred; the sum
 * over all parts is taken in double, in tape order. With y given, g is
 * first masked in place by y > 0 (ReLU backward), in the same pass. */
FIVO_INTERNAL void fivo__defer_bias(fivo_ctx *ctx, float *dst, int out, const float *y, float *g,
                                    int rows);
/* Forms every deferred gradient (end of fivo_ctx_backward). */
FIVO_INTERNAL void fivo__wgrad_flush(fivo_ctx *ctx);
/* Whether t's gradient may be deferred (a parameter or a view of one). */
static inline bool fivo__deferrable(const fivo_ctx *ctx, const fivo_tensor *t)
{
    return ctx->defer_wgrad && (t->flags & FIVO_TENSOR_PARAM) != 0 && t->grad != NULL;
}

#endif
