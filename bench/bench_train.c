/* fivo_bench_train: trains (or evaluates) a model for a number of steps on
 * a pianoroll pickle and prints one JSON line with timesteps per second
 * (sum of sequence lengths per second) and peak RSS. The same model, bound
 * and sizes as ../shared/peers/torch_vrnn_fivo.py, for bench/compare_peer.sh.
 *
 *   fivo_bench_train --data F [--model vrnn] [--bound fivo] [--latent 32]
 *       [--batch 4] [--particles 4] [--steps 60] [--warmup 10] [--eval]
 *       [--seed 1] [--lr 1e-4] */
#define _POSIX_C_SOURCE 200809L
#include <fivo/fivo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what, const fivo_error *e)
{
    fprintf(stderr, "fivo_bench_train: %s: %s\n", what, e ? e->message : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *model_name = "vrnn", *bound_name = "fivo";
    const char *latent = "32", *proposal = "filtering";
    int batch = 4, particles = 4, steps = 60, warmup = 10, eval = 0;
    long seed = 1;
    double lr = 1e-4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--eval")) {
            eval = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "fivo_bench_train: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--model"))
            model_name = v;
        else if (!strcmp(a, "--bound"))
            bound_name = v;
        else if (!strcmp(a, "--latent"))
            latent = v;
        else if (!strcmp(a, "--proposal"))
            proposal = v;
        else if (!strcmp(a, "--batch"))
            batch = atoi(v);
        else if (!strcmp(a, "--particles"))
            particles = atoi(v);
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atoi(v);
        else if (!strcmp(a, "--seed"))
            seed = atol(v);
        else if (!strcmp(a, "--lr"))
            lr = atof(v);
        else {
            fprintf(stderr, "fivo_bench_train: unknown flag %s\n", a);
            return 2;
        }
    }
    if (!data) {
        fprintf(stderr, "usage: fivo_bench_train --data FILE.pickle [--bound fivo] ...\n");
        return 2;
    }
    fivo_error err = {0};
    fivo_registry *reg = fivo_registry_new();
    fivo_registry_scan_dir(reg, FIVO_BENCH_PLUGIN_DIR, &err);
    fivo_config *cfg = fivo_config_new();
    fivo_config_set(cfg, "model", "latent_size", latent);
    fivo_config_set(cfg, "model", "proposal_type", proposal);
    fivo_dataset ds;
    if (fivo_dataset_open(reg, "pianoroll", cfg, data, "train", &ds, &err))
        return die("dataset", &err);
    fivo_dataset_info info;
    if (fivo_dataset_get_info(&ds, &info, &err))
        return die("dataset", &err);
    fivo_data_spec spec = {info.dim, info.kind, info.mean, 0};
    fivo_params *params = fivo_params_new((uint64_t)seed);
    fivo_model model;
    fivo_bound bound;
    fivo_resampler res;
    if (fivo_model_open(reg, model_name, cfg, &spec, params, &model, &err))
        return die("model", &err);
    if (fivo_bound_open(reg, bound_name, cfg, &bound, &err))
        return die("bound", &err);
    if (fivo_resampler_open(reg, "multinomial", cfg, &res, &err))
        return die("resampler", &err);
    fivo_adam_options ao;
    fivo_adam_options_default(&ao);
    ao.learning_rate = lr;
    fivo_adam *adam = fivo_adam_new(params, &ao);
    fivo_ctx *ctx = fivo_ctx_new((size_t)16 << 20, 0);
    int n = strcmp(bound_name, "elbo") == 0 ? 1 : particles;
    double t0 = 0, last = NAN;
    long long timesteps = 0;
    float inv[1024];
    for (int step = 0; step < warmup + steps; step++) {
        if (step == warmup) {
            t0 = now();
            timesteps = 0;
        }
        fivo_batch b;
        if (fivo_dataset_read_batch(&ds, batch, true, (uint64_t)seed, (uint64_t)step, &b, &err))
            return die("batch", &err);
        fivo_ctx_reset(ctx);
        fivo_ctx_set_grad_enabled(ctx, !eval);
        fivo_ctx_set_seed(ctx, (uint64_t)seed, (uint64_t)step);
        fivo_smc_result r;
        if (fivo_bound_compute(&bound, ctx, &model, &res, &b, n, &r, &err))
            return die("bound", &err);
        double s = 0;
        for (int i = 0; i < b.batch_size && i < 1024; i++) {
            inv[i] = -1.0f / ((float)b.lengths[i] * (float)b.batch_size);
            s += r.log_phat->data[i] / b.lengths[i];
            timesteps += b.lengths[i];
        }
        last = s / b.batch_size;
        if (!eval) {
            fivo_tensor *w = fivo_tensor_from(ctx, b.batch_size, 1, inv);
            fivo_tensor *loss = fivo_sum_all(ctx, fivo_mul(ctx, r.log_phat, w));
            if (fivo_ctx_backward(ctx, loss, &err))
                return die("backward", &err);
            if (fivo_adam_step(adam, NULL, &err))
                return die("adam", &err);
        }
    }
    double dt = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    printf("{\"impl\": \"fivo\", \"mode\": \"%s\", \"model\": \"%s\", \"bound\": \"%s\", "
           "\"latent\": %s, \"batch\": %d, \"particles\": %d, \"threads\": %s, \"steps\": %d, "
           "\"seconds\": %.3f, \"steps_per_sec\": %.2f, \"timesteps_per_sec\": %.1f, "
           "\"peak_rss_mb\": %.1f, \"arena_peak_mb\": %.1f, \"last_bound_per_t\": %.4f}\n",
           eval ? "eval" : "train", model_name, bound_name, latent, batch, n,
           threads ? threads : "null", steps, dt, steps / dt, timesteps / dt,
           ru.ru_maxrss / 1024.0, fivo_ctx_peak_bytes(ctx) / 1048576.0, last);
    fivo_ctx_free(ctx);
    fivo_adam_free(adam);
    fivo_resampler_close(&res);
    fivo_bound_close(&bound);
    fivo_model_close(&model);
    fivo_params_free(params);
    fivo_dataset_close(&ds);
    fivo_config_free(cfg);
    fivo_registry_free(reg);
    return 0;
}
