/* Tensors, the per-step arena and the reverse-mode autodiff tape.
 *
 * A fivo_tensor is a 2-D row-major float32 matrix (rows = batch x particles,
 * row = particle * B + sequence). Tensors made by ops live in the context's
 * arena and are valid until fivo_ctx_reset(); parameters (fivo_params.h) live
 * outside it and keep their gradient buffers across resets.
 *
 * Every op records a node on the context's tape when grad is enabled and an
 * input requires grad; fivo_ctx_backward() walks the tape in reverse and
 * accumulates gradients into every tensor that requires grad, parameters
 * included. No op mallocs: values, gradients and nodes come from the arena.
 *
 * Errors inside ops (shape mismatch, arena exhausted beyond its limit) are
 * sticky: the op returns a valid dummy tensor and the context remembers the
 * first error; check fivo_ctx_status() at a convenient point (once per
 * step). Ops never abort. */
#ifndef FIVO_TENSOR_H
#define FIVO_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FIVO_TENSOR_REQUIRES_GRAD = 1u << 0, /* gradient wanted (params, or derived from one) */
    FIVO_TENSOR_PARAM = 1u << 1          /* storage owned by a fivo_params store */
};

typedef struct fivo_tensor {
    int32_t rows;
    int32_t cols;
    float *data;    /* rows * cols floats, row-major, 32-byte aligned */
    float *grad;    /* same shape; NULL until backward needs it (params: always set) */
    int32_t node;   /* index of the producing tape node, or -1 for leaves */
    uint32_t flags; /* FIVO_TENSOR_* */
} fivo_tensor;

typedef struct fivo_ctx fivo_ctx;

/* arena_bytes: initial arena size; the arena grows by whole blocks when
 * exhausted (never reallocating live blocks), up to max_bytes (0 = no limit). */
fivo_ctx *fivo_ctx_new(size_t arena_bytes, size_t max_bytes);
void fivo_ctx_free(fivo_ctx *ctx);
/* Drops every arena tensor and the tape; keeps the memory for reuse. Also
 * clears a pending sticky error (a new step starts clean). */
void fivo_ctx_reset(fivo_ctx *ctx);
/* Peak arena bytes in use since creation (for benchmarks). */
size_t fivo_ctx_peak_bytes(const fivo_ctx *ctx);

/* Threads for the context's large products, n >= 1 (1, the default: none;
 * every core: fivo_threads_available()). The products are cut into fixed
 * column blocks, so results are bit-identical for any n. */
fivo_status fivo_ctx_set_threads(fivo_ctx *ctx, int n, fivo_error *err);
int fivo_ctx_threads(const fivo_ctx *ctx);
/* Parameter gradients of per-step products are by default formed once per
 * backward, as one product over every step's rows (K = steps x rows); off,
 * each step adds its own product as it is reached (the reference path the
 * tests compare against; equal to float rounding). */
void fivo_ctx_set_deferred_grads(fivo_ctx *ctx, bool on);
/* Memory budget of a training step's tape in fivo_smc_run (0, the default:
 * keep the whole tape; what set_observations makes once for all steps comes
 * on top). With a budget, fivo_smc_run keeps the tape only for a segment of
 * steps at a time: forward keeps each segment's input state, backward
 * recomputes the segment's forward and runs its backward (the gradients
 * are bit-identical to the whole tape's). Setting it also sizes the arena
 * to the budget at once, so later steps fault no pages in. */
void fivo_ctx_set_memory_budget(fivo_ctx *ctx, size_t bytes);
size_t fivo_ctx_memory_budget(const fivo_ctx *ctx);
/* Fixed segment length in steps (0, the default: from the budget; tests and
 * benchmarks set it to compare lengths). Without gradients it is how often
 * fivo_smc_run releases the steps' memory (see fivo/smc.h). */
void fivo_ctx_set_segment_steps(fivo_ctx *ctx, int steps);
int fivo_ctx_segment_steps(const fivo_ctx *ctx);
/* 2 m n k summed over every product the context ran since creation
 * (forward and backward): the FLOP count benchmarks report. */
double fivo_ctx_gemm_flops(const fivo_ctx *ctx);

/* Grad recording is on by default; eval turns it off (no tape nodes). */
void fivo_ctx_set_grad_enabled(fivo_ctx *ctx, bool enabled);
bool fivo_ctx_grad_enabled(const fivo_ctx *ctx);

/* First sticky error, or FIVO_OK. Copies the message into err if given. */
fivo_status fivo_ctx_status(const fivo_ctx *ctx, fivo_error *err);
/* Records an error from outside an op (first one wins). Returns code. */
fivo_status fivo_ctx_fail(fivo_ctx *ctx, fivo_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Raw 32-byte aligned scratch memory from the arena (valid until reset). */
void *fivo_ctx_alloc(fivo_ctx *ctx, size_t bytes);

/* New arena tensors. _new leaves data uninitialised. */
fivo_tensor *fivo_tensor_new(fivo_ctx *ctx, int rows, int cols);
fivo_tensor *fivo_tensor_zeros(fivo_ctx *ctx, int rows, int cols);
fivo_tensor *fivo_tensor_fill(fivo_ctx *ctx, int rows, int cols, float value);
fivo_tensor *fivo_tensor_from(fivo_ctx *ctx, int rows, int cols, const float *src);
static inline float *fivo_tensor_row(const fivo_tensor *t, int r) { return t->data + (size_t)r * (size_t)t->cols; }
static inline size_t fivo_tensor_size(const fivo_tensor *t) { return (size_t)t->rows * (size_t)t->cols; }

/* Runs backward from `loss` (must be 1x1), seeding d loss = 1. Gradients
 * accumulate (+=) into parameter grads; call once per step, then reset. */
fivo_status fivo_ctx_backward(fivo_ctx *ctx, fivo_tensor *loss, fivo_error *err);

/* ---- ops: each returns a new arena tensor ------------------------------ */

/* op(a) x op(b) via cblas_sgemm; trans_* transposes that operand. */
fivo_tensor *fivo_matmul(fivo_ctx *ctx, const fivo_tensor *a, bool trans_a,
                         const fivo_tensor *b, bool trans_b);
/* a + b: same shape, or b is 1 x cols (row-broadcast bias), or b is rows x 1
 * (column broadcast). */
fivo_tensor *fivo_add(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b);
fivo_tensor *fivo_sub(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b); /* same shapes as add */
fivo_tensor *fivo_mul(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b); /* same shapes as add */
fivo_tensor *fivo_scale(fivo_ctx *ctx, const fivo_tensor *a, float s);
fivo_tensor *fivo_add_scalar(fivo_ctx *ctx, const fivo_tensor *a, float s);
/* max(a, floor) elementwise; gradient passes where a > floor. */
fivo_tensor *fivo_clamp_min(fivo_ctx *ctx, const fivo_tensor *a, float floor);

fivo_tensor *fivo_concat_cols(fivo_ctx *ctx, int n, const fivo_tensor *const *parts);
/* Columns [col0, col0 + ncols) of a (a copy; backward adds into that slice). */
fivo_tensor *fivo_slice_cols(fivo_ctx *ctx, const fivo_tensor *a, int col0, int ncols);
/* Same data, new shape (rows * cols preserved). */
fivo_tensor *fivo_reshape(fivo_ctx *ctx, const fivo_tensor *a, int rows, int cols);

fivo_tensor *fivo_relu(fivo_ctx *ctx, const fivo_tensor *a);
fivo_tensor *fivo_sigmoid(fivo_ctx *ctx, const fivo_tensor *a);
fivo_tensor *fivo_tanh(fivo_ctx *ctx, const fivo_tensor *a);
fivo_tensor *fivo_softplus(fivo_ctx *ctx, const fivo_tensor *a); /* stable for large |a| */
fivo_tensor *fivo_exp(fivo_ctx *ctx, const fivo_tensor *a);
fivo_tensor *fivo_log(fivo_ctx *ctx, const fivo_tensor *a);
fivo_tensor *fivo_square(fivo_ctx *ctx, const fivo_tensor *a);

/* rows x 1: sum over columns of each row (accumulated in double). */
fivo_tensor *fivo_sum_cols(fivo_ctx *ctx, const fivo_tensor *a);
/* 1 x 1: sum of every element (double accumulation). */
fivo_tensor *fivo_sum_all(fivo_ctx *ctx, const fivo_tensor *a);
/* a is (groups * B) x 1 with row = g * B + b (particle-major). Returns B x 1:
 * out[b] = log sum_g exp(a[g * B + b]), computed stably in double. */
fivo_tensor *fivo_logsumexp_groups(fivo_ctx *ctx, const fivo_tensor *a, int groups);

/* n x cols: out[i] = a[index[i]]. Backward scatter-adds. index is copied. */
fivo_tensor *fivo_gather_rows(fivo_ctx *ctx, const fivo_tensor *a, const int32_t *index, int n);
/* Row r from a where mask[r] != 0, else from b (same shapes). */
fivo_tensor *fivo_select_rows(fivo_ctx *ctx, const uint8_t *mask, const fivo_tensor *a,
                              const fivo_tensor *b);
/* Same values, no gradient flows back. */
fivo_tensor *fivo_stop_gradient(fivo_ctx *ctx, const fivo_tensor *a);

/* ---- fused ops (the profile's hot spots) -------------------------------- */

/* rows x 1: sum_j log N(x_ij; mu_ij, sigma_ij^2). Gradients to x, mu, sigma. */
fivo_tensor *fivo_normal_log_prob(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *mu,
                                  const fivo_tensor *sigma);
/* rows x 1: sum_j [x log sigmoid(l) + (1 - x) log sigmoid(-l)], stable for
 * any logit (no inf/NaN at +-80 or beyond). Gradient to logits only. */
fivo_tensor *fivo_bernoulli_log_prob(fivo_ctx *ctx, const fivo_tensor *logits,
                                     const fivo_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
