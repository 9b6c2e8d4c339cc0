/* fivo_bench_ops: nanoseconds per op (forward, and forward + backward) at
 * 16 rows and widths 32..256, the shapes of a VRNN step. Each iteration
 * also pays for fivo_ctx_reset, as a training step does. Short by design:
 * about 50 ms per line. Usage: fivo_bench_ops [rows] */
#define _POSIX_C_SOURCE 199309L
#include <fivo/fivo.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct bench {
    fivo_ctx *ctx;
    fivo_params *p;
    fivo_linear lin;
    fivo_mlp mlp;
    fivo_lstm lstm;
    fivo_tensor *x, *h, *c, *w, *mu, *sg, *bx, *bl;
    int rows, width;
} bench;

typedef void (*body_fn)(bench *b, int backward);

/* Inputs live in the parameter store so they survive ctx resets; those
 * that need a gradient keep REQUIRES_GRAD, the others have it cleared. */
static fivo_tensor *input(bench *b, const char *name, int rows, int cols, float v, int grad)
{
    fivo_tensor *t = fivo_params_add(b->p, name, rows, cols, FIVO_INIT_ZEROS, NULL);
    for (size_t i = 0; i < fivo_tensor_size(t); i++)
        t->data[i] = v + 0.001f * (float)(i % 97);
    if (!grad)
        t->flags &= ~(uint32_t)FIVO_TENSOR_REQUIRES_GRAD;
    return t;
}

static void setup_inputs(bench *b)
{
    int r = b->rows, w = b->width;
    b->x = input(b, "in/x", r, w, 0.3f, 1);
    b->h = input(b, "in/h", r, w, -0.2f, 0);
    b->c = input(b, "in/c", r, w, 0.1f, 0);
    b->mu = input(b, "in/mu", r, w, 0.05f, 1);
    b->sg = input(b, "in/sg", r, w, 0.9f, 1);
    b->bx = input(b, "in/bx", r, 88, 1.0f, 0);
    b->bl = input(b, "in/bl", r, 88, -0.5f, 1);
}

static void finish(bench *b, fivo_tensor *y, int backward)
{
    if (backward)
        fivo_ctx_backward(b->ctx, fivo_sum_all(b->ctx, y), NULL);
}

static void b_matmul(bench *b, int bw) { finish(b, fivo_matmul(b->ctx, b->x, false, b->w, false), bw); }
static void b_linear(bench *b, int bw) { finish(b, fivo_linear_forward(b->ctx, &b->lin, b->x), bw); }
static void b_mlp(bench *b, int bw) { finish(b, fivo_mlp_forward(b->ctx, &b->mlp, b->x), bw); }
static void b_lstm(bench *b, int bw)
{
    fivo_tensor *ho, *co;
    fivo_lstm_forward(b->ctx, &b->lstm, b->x, b->h, b->c, &ho, &co);
    finish(b, ho, bw);
}
static void b_add(bench *b, int bw) { finish(b, fivo_add(b->ctx, b->x, b->mu), bw); }
static void b_tanh(bench *b, int bw) { finish(b, fivo_tanh(b->ctx, b->x), bw); }
static void b_normal_lp(bench *b, int bw) { finish(b, fivo_normal_log_prob(b->ctx, b->x, b->mu, b->sg), bw); }
static void b_bern_lp(bench *b, int bw) { finish(b, fivo_bernoulli_log_prob(b->ctx, b->bl, b->bx), bw); }
static void b_scale(bench *b, int bw) { finish(b, fivo_normal_scale(b->ctx, b->x, 0.5f, 0.01f), bw); }
static void b_sample(bench *b, int bw) { finish(b, fivo_normal_sample(b->ctx, b->mu, b->sg, FIVO_RNG_PROPOSAL, 1), bw); }
static void b_randn(bench *b, int bw)
{
    (void)bw;
    fivo_randn(b->ctx, FIVO_RNG_PROPOSAL, 1, b->rows, b->width);
}

/* ns per iteration of body + reset: the best of 5 runs of ~4 ms each
 * (the machine is shared; the minimum is the least disturbed). */
static double time_body(bench *b, body_fn body, int backward)
{
    long iters = 1;
    for (;;) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            body(b, backward);
            fivo_ctx_reset(b->ctx);
        }
        if (now_ns() - t0 > 4e6)
            break;
        iters *= 2;
    }
    double best = 1e300;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            body(b, backward);
            fivo_ctx_reset(b->ctx);
        }
        double per = (now_ns() - t0) / (double)iters;
        best = per < best ? per : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int rows = argc > 1 ? atoi(argv[1]) : 16;
    if (rows <= 0)
        rows = 16;
    static const struct {
        const char *name;
        body_fn fn;
        int has_backward;
        double flops_per_rw2; /* forward flops / (rows * width^2), for GFLOP/s */
    } cases[] = {
        {"matmul 16xW @ WxW", b_matmul, 1, 2},
        {"linear (fused bias)", b_linear, 1, 2},
        {"mlp W->W->W (relu)", b_mlp, 1, 4},
        {"lstm cell in=W hid=W", b_lstm, 1, 16},
        {"add 16xW", b_add, 1, 0},
        {"tanh 16xW", b_tanh, 1, 0},
        {"normal_scale 16xW", b_scale, 1, 0},
        {"normal_sample 16xW", b_sample, 1, 0},
        {"normal_log_prob 16xW", b_normal_lp, 1, 0},
        {"bernoulli_log_prob 16x88", b_bern_lp, 1, 0},
        {"randn 16xW", b_randn, 0, 0},
    };
    const int widths[] = {32, 64, 128, 256};
    printf("fivo_bench_ops: %d rows; ns per op (each including one ctx reset)\n", rows);
    printf("%-26s %6s %12s %12s %10s\n", "op", "W", "fwd ns", "fwd+bwd ns", "fwd GF/s");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int wi = 0; wi < 4; wi++) {
            int w = widths[wi];
            bench b = {0};
            b.rows = rows;
            b.width = w;
            b.ctx = fivo_ctx_new(1 << 20, 0);
            b.p = fivo_params_new(1);
            fivo_linear_init(&b.lin, b.p, "lin", w, w, NULL);
            const int sizes[2] = {w, w};
            fivo_mlp_init(&b.mlp, b.p, "mlp", w, sizes, 2, NULL);
            fivo_lstm_init(&b.lstm, b.p, "lstm", w, w, NULL);
            b.w = b.lin.w;
            setup_inputs(&b);
            double fwd = time_body(&b, cases[k].fn, 0);
            double both = cases[k].has_backward ? time_body(&b, cases[k].fn, 1) : 0;
            double gf = cases[k].flops_per_rw2 > 0 ? cases[k].flops_per_rw2 * rows * (double)w * w / fwd : 0;
            if (cases[k].has_backward)
                printf("%-26s %6d %12.0f %12.0f %10.2f\n", cases[k].name, w, fwd, both, gf);
            else
                printf("%-26s %6d %12.0f %12s %10s\n", cases[k].name, w, fwd, "-", "");
            fivo_params_free(b.p);
            fivo_ctx_free(b.ctx);
            if (k == 9)
                break; /* bernoulli: fixed 88 columns */
        }
    }
    return 0;
}
