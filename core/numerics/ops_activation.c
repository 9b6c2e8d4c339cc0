/* Elementwise activations and functions: relu, sigmoid, tanh, softplus,
 * exp, log, square. Backward uses the saved output where that is cheaper. */
#include "fastmath.h"
#include "ops_internal.h"

enum { ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTPLUS, ACT_EXP, ACT_LOG, ACT_SQUARE };

static void act_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    const float *g = y->grad, *x = a->data, *yd = y->data;
    float *da = fivo__grad(ctx, a);
    size_t sz = fivo_tensor_size(y);
    switch (n->i[0]) {
    case ACT_RELU:
        for (size_t i = 0; i < sz; i++)
            da[i] += yd[i] > 0.0f ? g[i] : 0.0f;
        break;
    case ACT_SIGMOID:
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i] * yd[i] * (1.0f - yd[i]);
        break;
    case ACT_TANH:
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i] * (1.0f - yd[i] * yd[i]);
        break;
    case ACT_SOFTPLUS:
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i] * fivo__fsigmoid(x[i]);
        break;
    case ACT_EXP:
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i] * yd[i];
        break;
    case ACT_LOG:
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i] / x[i];
        break;
    case ACT_SQUARE:
        for (size_t i = 0; i < sz; i++)
            da[i] += 2.0f * g[i] * x[i];
        break;
    }
}

static fivo_tensor *act(fivo_ctx *ctx, const fivo_tensor *a, int kind)
{
    fivo_tensor *y = fivo__tensor(ctx, a->rows, a->cols);
    if (y == &ctx->dummy)
        return y;
    const float *x = a->data;
    float *yd = y->data;
    size_t sz = fivo_tensor_size(y);
    switch (kind) {
    case ACT_RELU:
        for (size_t i = 0; i < sz; i++)
            yd[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case ACT_SIGMOID:
        for (size_t i = 0; i < sz; i++)
            yd[i] = fivo__fsigmoid(x[i]);
        break;
    case ACT_TANH:
        for (size_t i = 0; i < sz; i++)
            yd[i] = fivo__ftanh(x[i]);
        break;
    case ACT_SOFTPLUS:
        for (size_t i = 0; i < sz; i++)
            yd[i] = fivo__softplusf(x[i]);
        break;
    case ACT_EXP:
        for (size_t i = 0; i < sz; i++)
            yd[i] = expf(x[i]);
        break;
    case ACT_LOG:
        for (size_t i = 0; i < sz; i++)
            yd[i] = logf(x[i]);
        break;
    case ACT_SQUARE:
        for (size_t i = 0; i < sz; i++)
            yd[i] = x[i] * x[i];
        break;
    }
    if (fivo__wants(ctx, a)) {
        fivo_node *n = fivo__record(ctx, act_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)a;
            n->i[0] = kind;
        }
    }
    return y;
}

fivo_tensor *fivo_relu(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_RELU); }
fivo_tensor *fivo_sigmoid(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_SIGMOID); }
fivo_tensor *fivo_tanh(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_TANH); }
fivo_tensor *fivo_softplus(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_SOFTPLUS); }
fivo_tensor *fivo_exp(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_EXP); }
fivo_tensor *fivo_log(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_LOG); }
fivo_tensor *fivo_square(fivo_ctx *ctx, const fivo_tensor *a) { return act(ctx, a, ACT_SQUARE); }
