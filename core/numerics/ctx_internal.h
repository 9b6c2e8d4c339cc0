/* Private: the context (arena + tape + streams) shared by core's op files.
 * Not part of the SDK; plugins never include it. */
#ifndef FIVO_CTX_INTERNAL_H
#define FIVO_CTX_INTERNAL_H

#include <fivo/tensor.h>
#include <fivo/internal/threads.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FIVO_INTERNAL __attribute__((visibility("hidden")))
#define FIVO_ALIGN 32u

struct fivo_node;
typedef void (*fivo_backward_fn)(fivo_ctx *ctx, struct fivo_node *n);

/* One tape entry. Inputs beyond three, saved buffers and index copies hang
 * off `aux` (arena memory); small scalars go in the inline payload. */
typedef struct fivo_node {
    fivo_backward_fn backward;
    fivo_tensor *out;
    fivo_tensor *out2; /* second output (LSTM c'), or NULL */
    fivo_tensor *in[3];
    void *aux;
    float f[2];
    int32_t i[2];
} fivo_node;

typedef struct fivo_wgrad_part fivo_wgrad_part;
/* The deferred gradient parts of one parameter (core/numerics/wgrad.c). */
typedef struct fivo_wgrad_group {
    float *dst;
    int ld, in, out;
    bool bias;
    int rows;
    fivo_wgrad_part *head, *tail; /* arena, in tape order */
    /* Streaming flush (segments release their arena): rows packed so far
     * of the chunk being filled, or a bias's running double sums; malloc'd,
     * kept across steps. */
    float *stage;
    double *bias_acc;
    size_t stage_floats;
    int staged, bias_cap;
    bool streamed;
} fivo_wgrad_group;

struct fivo_threads;

/* A transposed copy of a product's B for this step (core/numerics/gemm.c). */
typedef struct fivo_transposed {
    const float *src;
    int rows, cols, ld;
    float *t; /* arena */
} fivo_transposed;

typedef struct fivo_arena_block {
    char *base;
    size_t size;
} fivo_arena_block;

/* A side region for what must outlive a released segment (gradients of
 * values made before it, checkpointed states): malloc'd chunks kept across
 * steps, bump-allocated, emptied at reset. */
typedef struct fivo_side_chunk {
    char *base;
    size_t size, used;
} fivo_side_chunk;

/* A point in the arena and the tape to come back to (segment.c). */
typedef struct fivo_ctx_mark {
    int cur;
    char *ptr;
    size_t used_before;
    int nnodes, ntr;
} fivo_ctx_mark;

struct fivo_ctx {
    /* Bump pointer into the current block: the hot path touches only these. */
    char *ptr;
    char *end;
    int cur;                    /* index of the current block */
    int nblocks, cap_blocks;
    fivo_arena_block *blocks;   /* never moved once allocated */
    size_t block_size;          /* default size of a new block */
    size_t total_bytes;         /* sum of block sizes */
    size_t max_bytes;           /* 0 = no limit */
    size_t used_before;         /* bytes used in blocks before `cur` */
    size_t peak;

    fivo_side_chunk *side;
    int nside, cap_side, side_cur;
    size_t memory_budget;       /* 0: keep the whole tape (no segments) */
    int segment_steps;          /* > 0: segments of this many steps */
    /* While a segment's backward runs: tensors made by nodes below this
     * index (before the segment) get gradient buffers from the side region,
     * so they survive the segment's release. 0 otherwise. */
    int seg_floor;
    bool wgrad_streamed;        /* some group holds staged rows */

    /* The tape: a vector kept across resets (grows only while warming up). */
    fivo_node *nodes;
    int nnodes, cap_nodes;
    bool grad_enabled;

    /* Deferred weight gradients: groups kept across resets, parts in the
     * arena; packing scratch kept too (no faults in steady state). */
    fivo_wgrad_group *wg;
    int nwg, cap_wg, wg_last;
    bool defer_wgrad;           /* default on; off: per-step products */
    float *pack;
    size_t pack_cap;

    fivo_transposed *tr;          /* kept across resets; entries dropped at reset */
    int ntr, cap_tr, tr_last;
    struct fivo_threads *threads; /* NULL: one thread */
    /* Not owned: a shard trainer's pool, whose idle threads help with this
     * context's large products while it runs on one thread (gemm.c). */
    struct fivo_threads *helpers;
    double gemm_flops;            /* 2 m n k of every product run (benchmarks) */

    fivo_status status;
    char message[FIVO_ERROR_MESSAGE_MAX];

    /* Random streams. */
    uint64_t seed;
    uint64_t global_step;
    uint32_t *row_keys;
    int nrow_keys, cap_row_keys;

    fivo_tensor dummy;          /* returned when even the arena fails */
    float dummy_data[8];
};

FIVO_INTERNAL void *fivo__arena_alloc_slow(fivo_ctx *ctx, size_t n);

/* ctx's large products post their pieces to `pool` (NULL: no longer) when
 * ctx runs on one thread inside a fivo_threads_run_helped of that pool; the
 * pieces are the same, so are the bits. The pool must outlive the setting. */
FIVO_INTERNAL void fivo__ctx_set_helpers(fivo_ctx *ctx, struct fivo_threads *pool);

static inline void *fivo__alloc(fivo_ctx *ctx, size_t bytes)
{
    size_t n = (bytes + (FIVO_ALIGN - 1)) & ~(size_t)(FIVO_ALIGN - 1);
    if (n == 0)
        n = FIVO_ALIGN;
    if ((size_t)(ctx->end - ctx->ptr) >= n) {
        void *p = ctx->ptr;
        ctx->ptr += n;
        return p;
    }
    return fivo__arena_alloc_slow(ctx, n);
}

static inline float *fivo__alloc_floats(fivo_ctx *ctx, size_t n)
{
    return (float *)fivo__alloc(ctx, n * sizeof(float));
}

static inline float *fivo__zeros(fivo_ctx *ctx, size_t n)
{
    float *p = fivo__alloc_floats(ctx, n);
    if (p != NULL)
        memset(p, 0, n * sizeof(float));
    return p;
}

/* A fresh arena tensor (header and data in one allocation). Never NULL:
 * on arena failure it returns the context's dummy and records the error. */
FIVO_INTERNAL fivo_tensor *fivo__tensor(fivo_ctx *ctx, int rows, int cols);
/* A zero tensor of the given shape after an op's argument error (sticky). */
FIVO_INTERNAL fivo_tensor *fivo__bad(fivo_ctx *ctx, int rows, int cols, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static inline bool fivo__wants(const fivo_ctx *ctx, const fivo_tensor *t)
{
    return ctx->grad_enabled && t != NULL && (t->flags & FIVO_TENSOR_REQUIRES_GRAD) != 0;
}

static inline bool fivo__req(const fivo_tensor *t)
{
    return t != NULL && (t->flags & FIVO_TENSOR_REQUIRES_GRAD) != 0;
}

/* Appends a node producing `out` (marks it as requiring grad). Returns NULL
 * only when the tape cannot grow (error recorded). The pointer is valid
 * until the next record call. */
FIVO_INTERNAL fivo_node *fivo__record(fivo_ctx *ctx, fivo_backward_fn fn, fivo_tensor *out);

FIVO_INTERNAL float *fivo__side_grad(fivo_ctx *ctx, fivo_tensor *t, bool zero);

/* The gradient buffer of t, allocated and zeroed on first use. */
static inline float *fivo__grad(fivo_ctx *ctx, fivo_tensor *t)
{
    if (t->grad == NULL)
        t->grad = t->node < ctx->seg_floor && t->node >= 0 ? fivo__side_grad(ctx, t, true)
                                                             : fivo__zeros(ctx, fivo_tensor_size(t));
    return t->grad;
}

/* The gradient buffer of t for a backward that writes every element of it:
 * when no gradient has arrived yet the buffer is left uninitialised and
 * *fresh is set, so the op stores (or runs sgemm with beta = 0) instead of
 * zeroing and then adding. */
static inline float *fivo__grad_fresh(fivo_ctx *ctx, fivo_tensor *t, bool *fresh)
{
    *fresh = t->grad == NULL;
    if (t->grad == NULL)
        t->grad = t->node < ctx->seg_floor && t->node >= 0
                      ? fivo__side_grad(ctx, t, false)
                      : fivo__alloc_floats(ctx, fivo_tensor_size(t));
    return t->grad;
}

/* Segments (segment.c): marks, releases, the side region, a backward over
 * the tape's tail. */
FIVO_INTERNAL fivo_ctx_mark fivo__ctx_mark(const fivo_ctx *ctx);
FIVO_INTERNAL void fivo__ctx_release(fivo_ctx *ctx, const fivo_ctx_mark *m);
FIVO_INTERNAL size_t fivo__ctx_in_use(const fivo_ctx *ctx);
FIVO_INTERNAL void *fivo__side_alloc(fivo_ctx *ctx, size_t bytes);
FIVO_INTERNAL void fivo__side_reset(fivo_ctx *ctx);
FIVO_INTERNAL void fivo__side_free(fivo_ctx *ctx);
FIVO_INTERNAL size_t fivo__side_bytes(const fivo_ctx *ctx);
/* Runs the backward of nodes nnodes-1 .. first (skipping those no
 * gradient reached). */
FIVO_INTERNAL void fivo__backward_tail(fivo_ctx *ctx, int first);
/* Moves the pending weight-gradient notes out of the arena: full chunks
 * are formed now, the rest copied to each group's stage; the chunks (and
 * so the bits) are those of one flush at the end. */
FIVO_INTERNAL void fivo__wgrad_stage(fivo_ctx *ctx);
FIVO_INTERNAL void fivo__wgrad_free(fivo_ctx *ctx);

#endif
