/* The LSTM cell with TensorFlow LSTMCell semantics, fused: one sgemm for
 * [x, h] @ kernel + bias, one gate kernel, one tape node with two outputs. */
#include "fastmath.h"
#include "ops_internal.h"
#include "gemm.h"

#include <fivo/layers.h>

#include <stdio.h>

fivo_status fivo_lstm_init(fivo_lstm *l, fivo_params *p, const char *prefix, int input_size,
                           int hidden_size, fivo_error *err)
{
    char name[512];
    memset(l, 0, sizeof *l);
    if (input_size <= 0 || hidden_size <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "lstm %s: invalid sizes input %d hidden %d", prefix,
                              input_size, hidden_size);
    snprintf(name, sizeof name, "%s/kernel", prefix);
    l->kernel = fivo_params_add(p, name, input_size + hidden_size, 4 * hidden_size,
                                FIVO_INIT_XAVIER_UNIFORM, err);
    if (l->kernel == NULL)
        return err ? err->code : FIVO_ERR_INVALID;
    snprintf(name, sizeof name, "%s/bias", prefix);
    l->bias = fivo_params_add(p, name, 1, 4 * hidden_size, FIVO_INIT_ZEROS, err);
    if (l->bias == NULL)
        return err ? err->code : FIVO_ERR_INVALID;
    l->input_size = input_size;
    l->hidden_size = hidden_size;
    l->forget_bias = 1.0f;
    return FIVO_OK;
}

typedef struct lstm_saved {
    fivo_tensor *kernel, *bias;
    fivo_tensor *pre; /* rows x 4H precomputed input part, or NULL */
    int pre_cols;     /* kernel rows it covers (the first ones) */
    float *xh;        /* rows x (in - pre_cols + H): the sgemm's left operand */
    float *act;       /* rows x 4H: sigmoid(i), tanh(j), sigmoid(f + fb), sigmoid(o) */
    float *tc;        /* rows x H: tanh(c') */
} lstm_saved;

/* One row of the gate kernel. a holds the pre-activations i, j, f, o on
 * entry and sigmoid(i), tanh(j), sigmoid(f + fb), sigmoid(o) on exit.
 * restrict lets the compiler vectorise without alias checks. */
FIVO_KERNEL static void gates_forward(int H, float fb, float *restrict a, const float *restrict c, float *restrict h,
                          float *restrict cn, float *restrict tc)
{
    for (int k = 0; k < H; k++) {
        float si = fivo__fsigmoid(a[k]);
        float tj = fivo__ftanh(a[H + k]);
        float sf = fivo__fsigmoid(a[2 * H + k] + fb);
        float so = fivo__fsigmoid(a[3 * H + k]);
        float cv = sf * c[k] + si * tj;
        float t = fivo__ftanh(cv);
        cn[k] = cv;
        h[k] = so * t;
        tc[k] = t;
        a[k] = si;
        a[H + k] = tj;
        a[2 * H + k] = sf;
        a[3 * H + k] = so;
    }
}

FIVO_KERNEL static void gates_backward(int H, const float *restrict a, const float *restrict tc, const float *restrict c,
                           const float *restrict gh, const float *restrict gc, float *restrict d,
                           float *restrict dc)
{
    const float *si = a, *tj = a + H, *sf = a + 2 * H, *so = a + 3 * H;
    for (int k = 0; k < H; k++) {
        float dh = gh[k];
        float dct = gc[k] + dh * so[k] * (1.0f - tc[k] * tc[k]);
        d[k] = dct * tj[k] * si[k] * (1.0f - si[k]);
        d[H + k] = dct * si[k] * (1.0f - tj[k] * tj[k]);
        d[2 * H + k] = dct * c[k] * sf[k] * (1.0f - sf[k]);
        d[3 * H + k] = dh * tc[k] * so[k] * (1.0f - so[k]);
        dc[k] += dct * sf[k];
    }
}

static void lstm_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *x = n->in[0], *h = n->in[1], *c = n->in[2];
    fivo_tensor *ho = n->out, *co = n->out2;
    lstm_saved *s = n->aux;
    int rows = ho->rows, H = ho->cols, In = x != NULL ? x->cols : 0, W = In + H, G = 4 * H;
    const float *K = s->kernel->data + (size_t)s->pre_cols * G; /* rows for [x, h] */
    float *dz = fivo__alloc_floats(ctx, (size_t)rows * G);
    if (dz == NULL)
        return;
    /* Missing gradients read as zeros and an unwanted dc goes to scratch,
     * so the gate loop has no branches and vectorises. */
    float *zeros = NULL;
    if (ho->grad == NULL || co->grad == NULL) {
        zeros = fivo__zeros(ctx, (size_t)rows * H);
        if (zeros == NULL)
            return;
    }
    float *dc = fivo__req(c) ? fivo__grad(ctx, c) : fivo__alloc_floats(ctx, (size_t)rows * H);
    if (dc == NULL)
        return;
    const float *ghb = ho->grad ? ho->grad : zeros, *gcb = co->grad ? co->grad : zeros;
    for (int r = 0; r < rows; r++)
        gates_backward(H, s->act + (size_t)r * G, s->tc + (size_t)r * H, c->data + (size_t)r * H,
                       ghb + (size_t)r * H, gcb + (size_t)r * H, dz + (size_t)r * G, dc + (size_t)r * H);
    /* A parameter's kernel and bias gradients: noted here, formed once per
     * batch over every step's rows (gemm.h). */
    if (fivo__req(s->bias) && fivo__deferrable(ctx, s->bias))
        fivo__defer_bias(ctx, s->bias->grad, G, NULL, dz, rows);
    else if (fivo__req(s->bias))
        fivo__add_col_sums(ctx, dz, rows, G, fivo__grad(ctx, s->bias));
    if (fivo__req(s->kernel) && fivo__deferrable(ctx, s->kernel)) {
        fivo__defer_wgrad(ctx, s->kernel->grad + (size_t)s->pre_cols * G, G, W, G, s->xh, W, dz, rows);
    } else if (fivo__req(s->kernel)) {
        float *dk = fivo__grad(ctx, s->kernel);
        if (dk != NULL)
            fivo__sgemm(ctx, true, false, W, G, rows, s->xh, W, dz, G, 1.0f,
                        dk + (size_t)s->pre_cols * G, G);
    }
    bool fresh;
    /* dx = dz K_x^T and dh = dz K_h^T straight into the gradients (first
     * ones overwrite); K_x and K_h are contiguous row blocks of the kernel. */
    if (x != NULL && fivo__req(x)) {
        float *dx = fivo__grad_fresh(ctx, x, &fresh);
        if (dx != NULL)
            fivo__sgemm(ctx, false, true, rows, In, G, dz, G, K, G, fresh ? 0.0f : 1.0f, dx, In);
    }
    if (fivo__req(h)) {
        float *dh = fivo__grad_fresh(ctx, h, &fresh);
        if (dh != NULL)
            fivo__sgemm(ctx, false, true, rows, H, G, dz, G, K + (size_t)In * G, G, fresh ? 0.0f : 1.0f,
                        dh, H);
    }
    fivo_tensor *pre = s->pre;
    if (pre != NULL && fivo__req(pre)) {
        /* d pre = dz, copied: other consumers of pre may still add into
         * its gradient */
        float *dp = fivo__grad_fresh(ctx, pre, &fresh);
        size_t sz = (size_t)rows * G;
        if (dp != NULL && fresh)
            memcpy(dp, dz, sz * sizeof(float));
        else if (dp != NULL)
            for (size_t i = 0; i < sz; i++)
                dp[i] += dz[i];
    }
}

/* z = pre + [x, h] @ kernel[pre_cols:] + bias (pre NULL: pre_cols 0). */
static void lstm_step(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *pre, int pre_cols,
                      const fivo_tensor *x, const fivo_tensor *h, const fivo_tensor *c,
                      fivo_tensor **h_out, fivo_tensor **c_out)
{
    int H = l->hidden_size, G = 4 * H, In = l->input_size - pre_cols, W = In + H;
    int rows = h->rows;
    if ((In > 0 && (x == NULL || x->cols != In || x->rows != rows)) || (In == 0 && x != NULL) ||
        h->cols != H || c->rows != rows || c->cols != H ||
        (pre != NULL && (pre->rows != rows || pre->cols != G))) {
        *h_out = fivo__bad(ctx, rows, H,
                           "lstm: x %dx%d, h %dx%d, c %dx%d, pre %dx%d (%d columns) for input %d "
                           "hidden %d",
                           x ? x->rows : 0, x ? x->cols : 0, h->rows, h->cols, c->rows, c->cols,
                           pre ? pre->rows : 0, pre ? pre->cols : 0, pre_cols, l->input_size, H);
        *c_out = fivo_tensor_zeros(ctx, rows, H);
        return;
    }
    fivo_tensor *ho = fivo__tensor(ctx, rows, H);
    fivo_tensor *co = fivo__tensor(ctx, rows, H);
    float *xh = fivo__alloc_floats(ctx, (size_t)rows * W);
    float *act = fivo__alloc_floats(ctx, (size_t)rows * G);
    bool wants = fivo__wants(ctx, x) || fivo__wants(ctx, h) || fivo__wants(ctx, c) ||
                 fivo__wants(ctx, pre) || fivo__wants(ctx, l->kernel) || fivo__wants(ctx, l->bias);
    float *tcb = fivo__alloc_floats(ctx, (size_t)rows * H); /* tanh(c'), kept for backward */
    *h_out = ho;
    *c_out = co;
    if (ho == &ctx->dummy || co == &ctx->dummy || xh == NULL || act == NULL || tcb == NULL)
        return;
    for (int r = 0; r < rows; r++) {
        if (In > 0)
            memcpy(xh + (size_t)r * W, x->data + (size_t)r * In, (size_t)In * sizeof(float));
        memcpy(xh + (size_t)r * W + In, h->data + (size_t)r * H, (size_t)H * sizeof(float));
        float *ar = act + (size_t)r * G;
        if (pre != NULL) {
            const float *pr = pre->data + (size_t)r * G, *b = l->bias->data;
            for (int k = 0; k < G; k++)
                ar[k] = pr[k] + b[k];
        } else {
            memcpy(ar, l->bias->data, (size_t)G * sizeof(float));
        }
    }
    fivo__sgemm(ctx, false, false, rows, G, W, xh, W, l->kernel->data + (size_t)pre_cols * G, G, 1.0f,
                act, G);
    for (int r = 0; r < rows; r++)
        gates_forward(H, l->forget_bias, act + (size_t)r * G, c->data + (size_t)r * H, ho->data + (size_t)r * H,
                      co->data + (size_t)r * H, tcb + (size_t)r * H);
    if (!wants)
        return;
    lstm_saved *s = fivo__alloc(ctx, sizeof *s);
    if (s == NULL)
        return;
    s->kernel = l->kernel;
    s->bias = l->bias;
    s->pre = (fivo_tensor *)pre;
    s->pre_cols = pre_cols;
    s->xh = xh;
    s->act = act;
    s->tc = tcb;
    fivo_node *n = fivo__record(ctx, lstm_backward, ho);
    if (n == NULL)
        return;
    n->out2 = co;
    n->in[0] = In > 0 ? (fivo_tensor *)x : NULL;
    n->in[1] = (fivo_tensor *)h;
    n->in[2] = (fivo_tensor *)c;
    n->aux = s;
    co->node = ho->node;
    co->flags |= FIVO_TENSOR_REQUIRES_GRAD;
}

void fivo_lstm_forward(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *x, const fivo_tensor *h,
                       const fivo_tensor *c, fivo_tensor **h_out, fivo_tensor **c_out)
{
    if (x->rows != h->rows) {
        *h_out = fivo__bad(ctx, x->rows, l->hidden_size, "lstm: x has %d rows, h %d", x->rows, h->rows);
        *c_out = fivo_tensor_zeros(ctx, x->rows, l->hidden_size);
        return;
    }
    lstm_step(ctx, l, NULL, 0, x, h, c, h_out, c_out);
}

void fivo_lstm_forward_pre(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *pre, int pre_cols,
                           const fivo_tensor *x, const fivo_tensor *h, const fivo_tensor *c,
                           fivo_tensor **h_out, fivo_tensor **c_out)
{
    if (pre == NULL || pre_cols < 0 || pre_cols > l->input_size) {
        *h_out = fivo__bad(ctx, h->rows, l->hidden_size,
                           "lstm_pre: %d precomputed columns of %d inputs%s", pre_cols,
                           l->input_size, pre == NULL ? " (no pre)" : "");
        *c_out = fivo_tensor_zeros(ctx, h->rows, l->hidden_size);
        return;
    }
    lstm_step(ctx, l, pre, pre_cols, pre_cols < l->input_size ? x : NULL, h, c, h_out, c_out);
}
