/* Every product of the tape goes through here: C = op(A) op(B) + beta C.
 * Large products are cut into fixed blocks of output columns, each one sgemm
 * call over the full K in the same order, run on the context's pool; small
 * ones are one call on the caller (waking a worker costs more than a 16-row
 * product). Both choices depend on the shape only, never on the thread
 * count, so the bits are the same on 1 or 64 threads. */
#include "ctx_internal.h"
#include "fastmath.h"
#include "gemm.h"

#include <cblas.h>
#include <fivo/internal/threads.h>
#include <stdlib.h>

#ifdef FIVO_HAVE_LIBXSMM
#include <libxsmm.h>
#include <pthread.h>

/* Row-major NN products on libxsmm's JIT kernel for the exact shape: 2-3x
 * OpenBLAS at a step's 16-row shapes (fivo_bench_gemm). Column-major view:
 * C^T = B^T A^T. Rows go in fixed chunks of FIVO_XSMM_ROWS, so products whose
 * row count changes with every batch (T x B) need at most that many kernels
 * per (n, k), not one per batch. False when libxsmm has no kernel. */
#define FIVO_XSMM 1
#define FIVO_XSMM_ROWS 64

/* A product longer than a chunk (T x B rows, once per batch) ends in a
 * chunk of m mod 64 rows: with its own kernel that is a new JIT kernel
 * (code pages faulted in) whenever a batch brings a new remainder, long
 * after warm-up. Such a chunk goes through the full chunk's kernel on a
 * padded copy instead (per thread, kept; xsmm_rows); each row's arithmetic
 * is the same, so the bits are too. */
typedef struct xsmm_pad {
    size_t floats;
    float *data;
} xsmm_pad;
static pthread_key_t xsmm_pad_key;
static pthread_once_t xsmm_pad_once = PTHREAD_ONCE_INIT;

static void xsmm_pad_free(void *p)
{
    xsmm_pad *pad = p;
    free(pad->data);
    free(pad);
}

static void xsmm_pad_init(void) { (void)pthread_key_create(&xsmm_pad_key, xsmm_pad_free); }

/* This thread's padded copy of at least `need` floats (freed at thread exit). */
static float *xsmm_pad_get(size_t need)
{
    pthread_once(&xsmm_pad_once, xsmm_pad_init);
    xsmm_pad *pad = pthread_getspecific(xsmm_pad_key);
    if (pad == NULL) {
        pad = calloc(1, sizeof *pad);
        if (pad == NULL || pthread_setspecific(xsmm_pad_key, pad) != 0) {
            free(pad);
            return NULL;
        }
    }
    if (need > pad->floats) {
        float *p = aligned_alloc(FIVO_ALIGN, (need * sizeof(float) + FIVO_ALIGN - 1) &
                                                 ~(size_t)(FIVO_ALIGN - 1));
        if (p == NULL)
            return NULL;
        memset(p, 0, need * sizeof(float));
        free(pad->data);
        pad->data = p;
        pad->floats = need;
    }
    return pad->data;
}

static bool xsmm_tail(libxsmm_smmfunction f, int rows, int n, int k, const float *a, int lda,
                      const float *b, float beta, float *c, int ldc)
{
    float *pa = xsmm_pad_get((size_t)FIVO_XSMM_ROWS * ((size_t)lda + (size_t)ldc));
    if (pa == NULL)
        return false;
    float *pc = pa + (size_t)FIVO_XSMM_ROWS * (size_t)lda;
    for (int r = 0; r < rows; r++) {
        memcpy(pa + (size_t)r * lda, a + (size_t)r * lda, (size_t)k * sizeof(float));
        if (beta != 0.0f)
            memcpy(pc + (size_t)r * ldc, c + (size_t)r * ldc, (size_t)n * sizeof(float));
    }
    f(b, pa, pc);
    for (int r = 0; r < rows; r++)
        memcpy(c + (size_t)r * ldc, pc + (size_t)r * ldc, (size_t)n * sizeof(float));
    return true;
}

/* libxsmm's dispatch hashes and compares a descriptor on every call: at
 * latent 32 that was 3.5 % of a step (internal_find_code, libxsmm_diff_n,
 * libxsmm_xmmdispatch), for a few dozen shapes that recur every timestep.
 * A small per-thread table of the kernels already dispatched answers
 * first; a miss (or a collision) asks libxsmm, which stays the owner. */
typedef struct xsmm_entry {
    libxsmm_blasint m, n, k, la, lb, lc;
    float beta;
    libxsmm_smmfunction f;
} xsmm_entry;
enum { XSMM_CACHE = 256 };
static _Thread_local xsmm_entry xsmm_cache[XSMM_CACHE];

static libxsmm_smmfunction xsmm_kernel(libxsmm_blasint M, libxsmm_blasint N, libxsmm_blasint K,
                                       libxsmm_blasint la, libxsmm_blasint lb, libxsmm_blasint lc,
                                       float beta)
{
    uint64_t h = (uint64_t)M * 0x9E3779B97F4A7C15u ^ (uint64_t)N * 0xC2B2AE3D27D4EB4Fu ^
                 (uint64_t)K * 0x165667B19E3779F9u ^ (uint64_t)la * 0x27D4EB2F165667C5u ^
                 (uint64_t)lb * 0x94D049BB133111EBu ^ (uint64_t)lc * 0xBF58476D1CE4E5B9u ^
                 (beta != 0.0f);
    xsmm_entry *e = &xsmm_cache[(h ^ (h >> 29)) % XSMM_CACHE];
    if (e->f != NULL && e->m == M && e->n == N && e->k == K && e->la == la && e->lb == lb &&
        e->lc == lc && e->beta == beta)
        return e->f;
    float alpha = 1.0f;
    int flags = LIBXSMM_GEMM_FLAGS('N', 'N'), pf = LIBXSMM_PREFETCH_NONE;
    libxsmm_smmfunction f = libxsmm_smmdispatch(M, N, K, &la, &lb, &lc, &alpha, &beta, &flags, &pf);
    if (f != NULL)
        *e = (xsmm_entry){M, N, K, la, lb, lc, beta, f};
    return f;
}

/* The rows a product's chunk of N < 64 rows is computed with, on a padded
 * copy where they differ. A tail (the chunk after full ones) takes the full
 * chunk's kernel, which exists. A first chunk is rounded up to a multiple
 * of 4 up to 16 rows (a step's particles x sequences keep their own) and of
 * 16 beyond: a whole-sequence product of a one-sequence shard has T rows (a
 * segment's, its length), and with a kernel per T every new length
 * JIT-built kernels (code pages faulted in) long after warm-up (JSB latent
 * 64, one sequence per shard: 2.7 faults per step over steps 10-40, all in
 * libxsmm_build). Now 9 row counts per (n, k) at most. */
static libxsmm_blasint xsmm_rows(libxsmm_blasint N, bool tail)
{
    if (tail)
        return FIVO_XSMM_ROWS;
    if (N <= 4)
        return N;
    libxsmm_blasint grain = N <= 16 ? 4 : 16;
    return (N + grain - 1) / grain * grain;
}

static bool xsmm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc)
{
    if (beta != 0.0f && beta != 1.0f)
        return false;
    libxsmm_blasint M = n, K = k, la = ldb, lb = lda, lc = ldc;
    for (int r0 = 0; r0 < m; r0 += FIVO_XSMM_ROWS) {
        libxsmm_blasint N = m - r0 < FIVO_XSMM_ROWS ? m - r0 : FIVO_XSMM_ROWS;
        libxsmm_blasint Np = xsmm_rows(N, r0 > 0);
        if (Np != N) {
            libxsmm_smmfunction f = xsmm_kernel(M, Np, K, la, lb, lc, beta);
            if (f != NULL && xsmm_tail(f, (int)N, n, k, a + (size_t)r0 * lda, lda, b, beta,
                                       c + (size_t)r0 * ldc, ldc))
                break;
        }
        libxsmm_smmfunction f = xsmm_kernel(M, N, K, la, lb, lc, beta);
        if (f == NULL) {
            if (r0 == 0)
                return false;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m - r0, n, k, 1.0f,
                        a + (size_t)r0 * lda, lda, b, ldb, beta, c + (size_t)r0 * ldc, ldc);
            return true;
        }
        f(b, a + (size_t)r0 * lda, c + (size_t)r0 * ldc);
    }
    return true;
}
#else
#define FIVO_XSMM 0
static bool xsmm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)beta, (void)c,
        (void)ldc;
    return false;
}
#endif

/* B^T (rows x cols of B, row stride ld) as a contiguous cols x rows copy,
 * made once per step for each B (a parameter or an arena value: neither
 * changes within a step) and kept until the reset. */
FIVO_KERNEL static void transpose_kernel(int rows, int cols, const float *restrict src, int ld,
                                         float *restrict dst)
{
    /* In 16 x 16 tiles: row by row, each write went to a new cache line
     * `rows` floats on (8.6 % of a latent-256 step, perf); a tile reads 16
     * lines and writes 16, each whole. */
    enum { TILE = 16 };
    for (int r0 = 0; r0 < rows; r0 += TILE) {
        int r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (int j0 = 0; j0 < cols; j0 += TILE) {
            int j1 = j0 + TILE < cols ? j0 + TILE : cols;
            for (int j = j0; j < j1; j++)
                for (int r = r0; r < r1; r++)
                    dst[(size_t)j * rows + r] = src[(size_t)r * ld + j];
        }
    }
}

static const float *transposed(fivo_ctx *ctx, const float *src, int rows, int cols, int ld)
{
    for (int i = 0; i < ctx->ntr; i++) {
        int q = (ctx->tr_last + i) % ctx->ntr;
        fivo_transposed *t = &ctx->tr[q];
        if (t->src == src && t->rows == rows && t->cols == cols && t->ld == ld) {
            ctx->tr_last = q;
            return t->t;
        }
    }
    if (ctx->ntr == ctx->cap_tr) {
        int cap = ctx->cap_tr ? 2 * ctx->cap_tr : 32;
        fivo_transposed *g = realloc(ctx->tr, (size_t)cap * sizeof *g);
        if (g == NULL)
            return NULL;
        ctx->tr = g;
        ctx->cap_tr = cap;
    }
    float *dst = fivo__alloc_floats(ctx, (size_t)rows * (size_t)cols);
    if (dst == NULL)
        return NULL;
    transpose_kernel(rows, cols, src, ld, dst);
    fivo_transposed *t = &ctx->tr[ctx->ntr];
    ctx->tr_last = ctx->ntr++;
    t->src = src;
    t->rows = rows;
    t->cols = cols;
    t->ld = ld;
    t->t = dst;
    return dst;
}

/* One product on this thread: NN on libxsmm where it applies, else
 * OpenBLAS (A^T B too: its K, the rows of a batch, changes every batch, and
 * at such K OpenBLAS runs near its peak anyway). */
static void gemm1(bool ta, bool tb, int m, int n, int k, const float *a, int lda, const float *b,
                  int ldb, float beta, float *c, int ldc)
{
    if (!ta && !tb && k > 0 && xsmm(m, n, k, a, lda, b, ldb, beta, c, ldc))
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, a, lda, b, ldb, beta, c, ldc);
}

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
    gemm1(j->ta, j->tb, j->m, w, j->k, j->a, j->lda, b, j->ldb, j->beta, j->c + j0, j->ldc);
}

void fivo__sgemm(fivo_ctx *ctx, bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    double work = (double)m * (double)n * (double)k;
    ctx->gemm_flops += 2.0 * work;
    if (FIVO_XSMM && tb && !ta && k > 0) {
        /* op(B) = B^T, which libxsmm lacks: multiply by a transposed copy
         * (B is n x k here; the copy costs 1/m of the product) */
        const float *bt = transposed(ctx, b, n, k, ldb);
        if (bt != NULL) {
            b = bt;
            ldb = n;
            tb = false;
        }
    }
    if (work < FIVO_GEMM_PARALLEL_MIN) {
        /* small: one call on this thread (a shape-only decision, so the
         * bits still do not depend on the thread count) */
        gemm1(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_job j = {ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc};
    int pieces = (n + FIVO_GEMM_BLOCK - 1) / FIVO_GEMM_BLOCK;
    if (ctx->threads == NULL && ctx->helpers != NULL)
        fivo_threads_share(ctx->helpers, pieces, gemm_piece, &j); /* a shard's: idle threads help */
    else
        fivo_threads_run(ctx->threads, pieces, gemm_piece, &j);
}
