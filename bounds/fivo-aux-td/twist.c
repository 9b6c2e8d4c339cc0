/* The Gaussian twist's closed forms and Bellman loss (twist.h). */
#include "twist.h"

#include <math.h>
#include <string.h>

double fivo_auxtd_log_r(const float *mu, const float *prec, const float *mu_p,
                        const float *sigma_p, int Z)
{
    double acc = 0.0;
    for (int j = 0; j < Z; j++) {
        double s = (double)sigma_p[j] * (double)sigma_p[j];
        double l = prec[j] > 0.0f ? (double)prec[j] : 0.0;
        double d = (double)mu[j] - (double)mu_p[j];
        double ls = l * s;
        acc += log1p(ls) + l * d * d / (1.0 + ls);
    }
    return -0.5 * acc;
}

fivo_tensor *fivo_auxtd_log_r_tilde(fivo_ctx *ctx, const fivo_tensor *z, const fivo_tensor *mu,
                                    const fivo_tensor *prec)
{
    fivo_tensor *d = fivo_sub(ctx, fivo_stop_gradient(ctx, z), mu);
    return fivo_scale(ctx, fivo_sum_cols(ctx, fivo_mul(ctx, fivo_square(ctx, d), prec)), -0.5f);
}

void fivo_auxtd_td_targets(const float *log_r_tilde, const float *lpx, const float *log_r, int N,
                           int B, float *out)
{
    for (int b = 0; b < B; b++) {
        double lambda = 0.0;
        for (int p = 0; p < N; p++) {
            int r = p * B + b;
            lambda += (double)log_r_tilde[r] - (double)lpx[r] - (double)log_r[r];
        }
        lambda /= N;
        for (int p = 0; p < N; p++) {
            int r = p * B + b;
            out[r] = (float)(lambda + (double)lpx[r] + (double)log_r[r]);
        }
    }
}

fivo_tensor *fivo_auxtd_bellman(fivo_ctx *ctx, const fivo_tensor *log_r_tilde,
                                const float *target, const uint8_t *keep, int N, int B)
{
    int rows = N * B;
    fivo_tensor *err = fivo_square(
        ctx, fivo_sub(ctx, log_r_tilde, fivo_tensor_from(ctx, rows, 1, target)));
    /* The mean over each filter's particles as one product: S (B x rows). */
    fivo_tensor *S = fivo_tensor_zeros(ctx, B, rows);
    if (S == NULL || fivo_ctx_status(ctx, NULL) != FIVO_OK)
        return S;
    for (int b = 0; b < B; b++)
        if (keep[b])
            for (int p = 0; p < N; p++)
                S->data[(size_t)b * (size_t)rows + (size_t)(p * B + b)] = 1.0f / (float)N;
    return fivo_matmul(ctx, S, false, err, false);
}
