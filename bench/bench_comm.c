/* fivo_bench_comm: the per-step communication of data-parallel training
 * alone (fivo/comm.h), under mpirun: one status agreement carrying the
 * tensors' exponents, one exact int64 all-reduce of the gradients, one
 * gather of the per-sequence results. Prints one JSON line (rank 0).
 *
 *   mpirun -np 2 fivo_bench_comm [--values N] [--tensors 30] [--seqs 8] [--iters 200] */
#define _POSIX_C_SOURCE 200809L
#include <fivo/internal/comm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long values = 100000, tensors = 30, seqs = 8, iters = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = atol(argv[i + 1]);
        if (!strcmp(argv[i], "--values"))
            values = v;
        else if (!strcmp(argv[i], "--tensors"))
            tensors = v;
        else if (!strcmp(argv[i], "--seqs"))
            seqs = v;
        else if (!strcmp(argv[i], "--iters"))
            iters = v;
        else {
            fprintf(stderr, "fivo_bench_comm: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    fivo_error err = {0};
    if (fivo_comm_init(&argc, &argv, &err) != FIVO_OK) {
        fprintf(stderr, "fivo_bench_comm: %s\n", err.message);
        return 1;
    }
    int64_t *g = calloc((size_t)values, sizeof *g);
    int32_t *e = calloc((size_t)tensors, sizeof *e);
    double *mine = calloc((size_t)(3 * seqs), sizeof *mine);
    if (!g || !e || !mine)
        return 1;
    int K = fivo_comm_size();
    int per_rank = (int)(3 * seqs / K);
    for (long it = -10; it < iters; it++) { /* 10 warm-up rounds */
        static double t0;
        static uint64_t b0;
        if (it == 0) {
            t0 = now();
            b0 = fivo_comm_bytes_sent();
        }
        for (long i = 0; i < values; i++)
            g[i] = (int64_t)(i + it);
        fivo_comm_agree(FIVO_OK, &err, e, (int)tensors);
        fivo_comm_sum_int64(g, (size_t)values, &err);
        double *all = NULL;
        int n_all = 0;
        fivo_comm_gather_doubles(mine, per_rank, &all, &n_all, &err);
        free(all);
        if (it == iters - 1 && fivo_comm_rank() == 0) {
            double dt = now() - t0;
            printf("{\"ranks\": %d, \"values\": %ld, \"bytes_per_step\": %.0f, "
                   "\"us_per_step\": %.1f}\n",
                   K, values, (double)(fivo_comm_bytes_sent() - b0) / (double)iters,
                   1e6 * dt / (double)iters);
        }
    }
    free(g);
    free(e);
    free(mine);
    fivo_comm_finalize();
    return 0;
}
