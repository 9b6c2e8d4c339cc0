/* fivo_bench_gemm: single-thread GFLOP/s of OpenBLAS and (when built with
 * it) libxsmm at a VRNN step's product shapes (16 rows x 32-1024 columns),
 * best of 7 timings (the machine is shared), and their largest difference.
 * The numbers behind core/numerics/gemm.c's choice.
 *
 *   fivo_bench_gemm --square N  prints only the best single-thread OpenBLAS
 *   GFLOP/s of an N x N x N product (best of 5) per wall second, then per
 *   CPU second of the process (the same on an idle core; on a shared
 *   machine the second moves less): this core's practical FMA peak, which
 *   bench/speed_table.sh measures with and without OPENBLAS_CORETYPE. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef FIVO_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best of 5 timings of one N^3 sgemm (a second each at most). */
static int square(int n)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = calloc(nn, sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "fivo_bench_gemm: out of memory for %d^3\n", n);
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 7) * 0.1f - 0.3f;
        b[i] = (float)(i % 5) * 0.1f - 0.2f;
    }
    /* one untimed call: page faults and OpenBLAS's buffers out of the figure */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double flop = 2.0 * n * n * n, best = 0, best_cpu = 0;
    int calls = 1 + (int)(2e10 / flop);
    for (int rep = 0; rep < 5; rep++) {
        double t = now(), c0 = cpu_now();
        for (int i = 0; i < calls; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = flop * calls / (now() - t) / 1e9, gc = flop * calls / (cpu_now() - c0) / 1e9;
        best = g > best ? g : best;
        best_cpu = gc > best_cpu ? gc : best_cpu;
    }
    printf("%.1f %.1f\n", best, best_cpu);
    free(a), free(b), free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--square") == 0 && atoi(argv[2]) > 0)
        return square(atoi(argv[2]));
    if (argc != 1) {
        fprintf(stderr, "usage: fivo_bench_gemm [--square N]\n");
        return 2;
    }
    /* rows x cols x inner: LSTM [z,h] x 4H, heads, emission, at latent 32..256 */
    static const int shapes[][3] = {{16, 128, 64},  {16, 64, 32},   {16, 88, 32},   {16, 256, 128},
                                    {16, 128, 64},  {16, 1024, 512}, {16, 512, 256}, {64, 128, 64},
                                    {256, 128, 64}, {1, 128, 64},   {7, 65, 33},
                                    /* one sequence per shard, 4 particles, latent 64 / 256 */
                                    {4, 256, 128},  {4, 128, 256},  {4, 256, 64},   {4, 1024, 512},
                                    {4, 256, 1024}, {4, 256, 256},  {4, 512, 256},  {4, 256, 512}};
    printf("%-14s %12s %12s %10s\n", "m x n x k", "openblas", "libxsmm", "maxdiff");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c1 = calloc((size_t)m * n, sizeof(float)), *c2 = calloc((size_t)m * n, sizeof(float));
        if (!a || !b || !c1 || !c2)
            return 1;
        for (int i = 0; i < m * k; i++)
            a[i] = (float)(i % 7) * 0.1f - 0.3f;
        for (int i = 0; i < k * n; i++)
            b[i] = (float)(i % 5) * 0.1f - 0.2f;
        int calls = 1 + (int)(2e7 / (2.0 * m * n * k));
        double bo = 0, bx = NAN, md = NAN;
        for (int rep = 0; rep < 7; rep++) {
            double t = now();
            for (int i = 0; i < calls; i++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c1, n);
            double g = 2.0 * m * n * k * calls / (now() - t) / 1e9;
            bo = g > bo ? g : bo;
        }
#ifdef FIVO_HAVE_LIBXSMM
        float alpha = 1.0f, beta = 0.0f;
        int flags = LIBXSMM_GEMM_FLAGS('N', 'N'), pf = LIBXSMM_PREFETCH_NONE;
        libxsmm_blasint M = n, N = m, K = k, la = n, lb = k, lc = n;
        libxsmm_smmfunction f = libxsmm_smmdispatch(M, N, K, &la, &lb, &lc, &alpha, &beta, &flags, &pf);
        if (f != NULL) {
            bx = 0;
            for (int rep = 0; rep < 7; rep++) {
                double t = now();
                for (int i = 0; i < calls; i++)
                    f(b, a, c2);
                double g = 2.0 * m * n * k * calls / (now() - t) / 1e9;
                bx = g > bx ? g : bx;
            }
            md = 0;
            for (int i = 0; i < m * n; i++)
                md = fmax(md, fabs((double)c1[i] - c2[i]));
        }
#endif
        char nm[32];
        snprintf(nm, sizeof nm, "%dx%dx%d", m, n, k);
        printf("%-14s %12.1f %12.1f %10.2g\n", nm, bo, bx, md);
        free(a), free(b), free(c1), free(c2);
    }
    return 0;
}
