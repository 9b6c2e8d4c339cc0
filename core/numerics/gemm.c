/* Every product of the tape goes through here: C = op(A) op(B) + beta C,
 * cut into fixed blocks of output columns, each one sgemm call over the full
 * K in the same order. The blocks depend on the shape only, never on the
 * thread count, so the bits are the same on 1 or 64 threads; large products
 * run their blocks on the context's pool, small ones on the caller (waking a
 * worker costs more than a 16-row product). */
#include "ctx_internal.h"
#include "gemm.h"

#include <cblas.h>
#include <fivo/threads.h>

typedef struct gemm_job {
    bool ta, tb;
    int m, n, k;
    const float *a;
    int lda;
    const float *b;
    int ldb;
    float beta;
    float *c;
    int ldc;
} gemm_job;

static void gemm_piece(void *arg, int piece)
{
    const gemm_job *j = arg;
    int j0 = piece * FIVO_GEMM_BLOCK;
    int w = j->n - j0 < FIVO_GEMM_BLOCK ? j->n - j0 : FIVO_GEMM_BLOCK;
    const float *b = j->tb ? j->b + (size_t)j0 * (size_t)j->ldb : j->b + j0;
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
                j->m, w, j->k, 1.0f, j->a, j->lda, b, j->ldb, j->beta, j->c + j0, j->ldc);
}

void fivo__sgemm(fivo_ctx *ctx, bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    gemm_job j = {ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc};
    int pieces = (n + FIVO_GEMM_BLOCK - 1) / FIVO_GEMM_BLOCK;
    double work = (double)m * (double)n * (double)k;
    ctx->gemm_flops += 2.0 * work;
    fivo_threads *pool = work >= FIVO_GEMM_PARALLEL_MIN ? ctx->threads : NULL;
    fivo_threads_run(pool, pieces, gemm_piece, &j);
}
