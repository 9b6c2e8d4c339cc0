/* Layers over the tape. Weights are Xavier-uniform, biases zero, as in the
 * reference. Parameter names are "<prefix>/w" and "<prefix>/b"; an MLP's
 * layers are "<prefix>/fc1", "<prefix>/fc2", ... */
#ifndef FIVO_LAYERS_H
#define FIVO_LAYERS_H

#include <fivo/params.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_linear {
    fivo_tensor *w; /* in x out */
    fivo_tensor *b; /* 1 x out */
    int in, out;
} fivo_linear;

fivo_status fivo_linear_init(fivo_linear *l, fivo_params *p, const char *prefix, int in, int out,
                             fivo_error *err);
/* x @ w + b */
fivo_tensor *fivo_linear_forward(fivo_ctx *ctx, const fivo_linear *l, const fivo_tensor *x);

/* x @ w + b + pre, then ReLU if relu: one tape node (b and pre may be
 * NULL). pre (rows x w->cols) is a precomputed part of the product, e.g.
 * rows gathered from one per-batch matmul of inputs that every particle
 * shares; with w = fivo_param_rows(...) of a layer's weight this splits a
 * layer over concatenated inputs without the concatenation. */
fivo_tensor *fivo_linear_pre(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                             const fivo_tensor *b, const fivo_tensor *pre, bool relu);

/* Rows [row0, row0 + n) of a parameter as a tensor sharing its values and
 * its gradient buffer (no copy, no tape node): gradients of ops on the view
 * accumulate straight into the parameter's. Parameters only (their gradient
 * buffers always exist); anything else is a sticky error. Valid until the
 * context is reset. */
fivo_tensor *fivo_param_rows(fivo_ctx *ctx, const fivo_tensor *param, int row0, int n);

#define FIVO_MLP_MAX_LAYERS 8

typedef struct fivo_mlp {
    int num_layers;
    fivo_linear layers[FIVO_MLP_MAX_LAYERS];
} fivo_mlp;

/* sizes[0..n) are the output widths of each layer (hidden..., output). ReLU
 * after every layer but the last (linear output). */
fivo_status fivo_mlp_init(fivo_mlp *m, fivo_params *p, const char *prefix, int in, const int *sizes,
                          int n, fivo_error *err);
fivo_tensor *fivo_mlp_forward(fivo_ctx *ctx, const fivo_mlp *m, const fivo_tensor *x);
/* The MLP with its first layer split (fivo_linear_pre): x holds the input
 * features [x_row0, x_row0 + x->cols) and is multiplied by those rows of the
 * first weight; pre (rows x first layer width, or NULL) is the product of the
 * other features, e.g. rows gathered from one per-batch matmul of inputs
 * that every particle shares. Gradients flow to x, pre and the parameters. */
fivo_tensor *fivo_mlp_forward_pre(fivo_ctx *ctx, const fivo_mlp *m, const fivo_tensor *x,
                                  int x_row0, const fivo_tensor *pre);

/* TensorFlow LSTMCell semantics: z = [x, h] @ kernel + bias, split into gates
 * i, j, f, o (in that order); c' = sigmoid(f + forget_bias) * c +
 * sigmoid(i) * tanh(j); h' = sigmoid(o) * tanh(c'). forget_bias = 1.0.
 * Parameters "<prefix>/kernel" ((in + hidden) x 4 hidden, Xavier) and
 * "<prefix>/bias" (1 x 4 hidden, zeros). */
typedef struct fivo_lstm {
    fivo_tensor *kernel;
    fivo_tensor *bias;
    int input_size, hidden_size;
    float forget_bias;
} fivo_lstm;

fivo_status fivo_lstm_init(fivo_lstm *l, fivo_params *p, const char *prefix, int input_size,
                           int hidden_size, fivo_error *err);
/* One step; x is rows x input_size, h and c rows x hidden_size. */
void fivo_lstm_forward(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *x,
                       const fivo_tensor *h, const fivo_tensor *c, fivo_tensor **h_out,
                       fivo_tensor **c_out);
/* The same step with the first pre_cols input features already multiplied:
 * pre (rows x 4 hidden) = inputs[:, :pre_cols] @ kernel[:pre_cols] (e.g.
 * gathered rows of fivo_matmul(encoded data, fivo_param_rows(kernel, 0,
 * pre_cols)) computed once per batch), and x (rows x (input_size -
 * pre_cols), NULL when that is 0) holds the remaining features. Gradients
 * flow to pre, x, h, c and the parameters. */
void fivo_lstm_forward_pre(fivo_ctx *ctx, const fivo_lstm *l, const fivo_tensor *pre,
                           int pre_cols, const fivo_tensor *x, const fivo_tensor *h,
                           const fivo_tensor *c, fivo_tensor **h_out, fivo_tensor **c_out);

#ifdef __cplusplus
}
#endif
#endif
