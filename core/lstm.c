/* The LSTM cell with TensorFlow LSTMCell semantics, fused: one sgemm for
 * [x, h] @ kernel + bias, one gate kernel, one tape node with two outputs. */
#include "fastmath.h"
#include "ops_internal.h"

#include <fivo/layers.h>

#include <cblas.h>
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
    float *xh;  /* rows x (in + H): the sgemm's left operand */
    float *act; /* rows x 4H: sigmoid(i), tanh(j), sigmoid(f + fb), sigmoid(o) */
    float *tc;  /* rows x H: tanh(c') */
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
    int rows = ho->rows, H = ho->cols, In = x->cols, W = In + H, G = 4 * H;
    float *dz = fivo__alloc_floats(ctx, (size_t)rows * G);
    if (dz == NULL)
        return;
    /* Missing gradients read as zeros and an unwanted dc goes to scratch,
     * so the gate loop has no branches and vectorises. */
    float *zeros = NULL, *scratch = NULL;
    if (ho->grad == NULL || co->grad == NULL) {
        zeros = fivo__zeros(ctx, (size_t)rows * H);
        if (zeros == NULL)
            return;
    }
    float *dc = fivo__req(c) ? fivo__grad(ctx, c) : (scratch = fivo__alloc_floats(ctx, (size_t)rows * H));
    if (dc == NULL)
        return;
    const float *ghb = ho->grad ? ho->grad : zeros, *gcb = co->grad ? co->grad : zeros;
    for (int r = 0; r < rows; r++)
        gates_backward(H, s->act + (size_t)r * G, s->tc + (size_t)r * H, c->data + (size_t)r * H,
                       ghb + (size_t)r * H, gcb + (size_t)r * H, dz + (size_t)r * G, dc + (size_t)r * H);
    (void)scratch;
    if (fivo__req(s->bias))
        fivo__add_col_sums(ctx, dz, rows, G, fivo__grad(ctx, s->bias));
    if (fivo__req(s->kernel))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, W, G, rows, 1.0f, s->xh, W, dz, G, 1.0f,
                    fivo__grad(ctx, s->kernel), G);
    if (fivo__req(x) || fivo__req(h)) {
        float *dxh = fivo__alloc_floats(ctx, (size_t)rows * W);
        if (dxh == NULL)
            return;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, W, G, 1.0f, dz, G, s->kernel->data, G,
                    0.0f, dxh, W);
        float *dx = fivo__req(x) ? fivo__grad(ctx, x) : NULL;
        float *dhp = fivo__req(h) ? fivo__grad(ctx, h) : NULL;
        for (int r = 0; r < rows; r++) {
            const float *src = dxh + (size_t)r * W;
            if (dx != NULL)
                for (int k = 0; k < In; k++)
                    dx[(size_t)r * In + k] += src[k];
            if (dhp != NULL)
                for (int k = 0; k < H; k++)
                    dhp[(size_t)r * H + k] += src[In + k];
        }
    }
}

void fivo_lstm_forward(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *x, const fivo_tensor *h,
                       const fivo_tensor *c, fivo_tensor **h_out, fivo_tensor **c_out)
{
    int rows = x->rows, In = l->input_size, H = l->hidden_size, W = In + H, G = 4 * H;
    if (x->cols != In || h->rows != rows || h->cols != H || c->rows != rows || c->cols != H) {
        *h_out = fivo__bad(ctx, rows, H, "lstm: x %dx%d, h %dx%d, c %dx%d for input %d hidden %d", x->rows,
                           x->cols, h->rows, h->cols, c->rows, c->cols, In, H);
        *c_out = fivo_tensor_zeros(ctx, rows, H);
        return;
    }
    fivo_tensor *ho = fivo__tensor(ctx, rows, H);
    fivo_tensor *co = fivo__tensor(ctx, rows, H);
    float *xh = fivo__alloc_floats(ctx, (size_t)rows * W);
    float *act = fivo__alloc_floats(ctx, (size_t)rows * G);
    bool wants = fivo__wants(ctx, x) || fivo__wants(ctx, h) || fivo__wants(ctx, c) ||
                 fivo__wants(ctx, l->kernel) || fivo__wants(ctx, l->bias);
    float *tcb = fivo__alloc_floats(ctx, (size_t)rows * H); /* tanh(c'), kept for backward */
    *h_out = ho;
    *c_out = co;
    if (ho == &ctx->dummy || co == &ctx->dummy || xh == NULL || act == NULL || tcb == NULL)
        return;
    for (int r = 0; r < rows; r++) {
        memcpy(xh + (size_t)r * W, x->data + (size_t)r * In, (size_t)In * sizeof(float));
        memcpy(xh + (size_t)r * W + In, h->data + (size_t)r * H, (size_t)H * sizeof(float));
        memcpy(act + (size_t)r * G, l->bias->data, (size_t)G * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, G, W, 1.0f, xh, W, l->kernel->data, G,
                1.0f, act, G);
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
    s->xh = xh;
    s->act = act;
    s->tc = tcb;
    fivo_node *n = fivo__record(ctx, lstm_backward, ho);
    if (n == NULL)
        return;
    n->out2 = co;
    n->in[0] = (fivo_tensor *)x;
    n->in[1] = (fivo_tensor *)h;
    n->in[2] = (fivo_tensor *)c;
    n->aux = s;
    co->node = ho->node;
    co->flags |= FIVO_TENSOR_REQUIRES_GRAD;
}
