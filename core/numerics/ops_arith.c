/* Binary arithmetic with broadcasting (add, sub, mul) and scalar ops. */
#include "ops_internal.h"

enum { BC_SAME = 0, BC_ROW = 1, BC_COL = 2 };

/* b's broadcast mode against a, or -1 when the shapes do not fit. */
static int bc_mode(const fivo_tensor *a, const fivo_tensor *b)
{
    if (a->rows == b->rows && a->cols == b->cols)
        return BC_SAME;
    if (b->rows == 1 && b->cols == a->cols)
        return BC_ROW;
    if (b->cols == 1 && b->rows == a->rows)
        return BC_COL;
    return -1;
}

/* db += reduce(g) for b's broadcast mode, times sign. */
static void reduce_into(fivo_ctx *ctx, int mode, const float *g, int rows, int cols, float *db, float sign)
{
    size_t sz = (size_t)rows * cols;
    if (mode == BC_SAME) {
        if (sign > 0)
            for (size_t i = 0; i < sz; i++)
                db[i] += g[i];
        else
            for (size_t i = 0; i < sz; i++)
                db[i] -= g[i];
    } else if (mode == BC_ROW) {
        if (sign > 0) {
            fivo__add_col_sums(ctx, g, rows, cols, db);
        } else {
            double *acc = fivo__alloc(ctx, (size_t)cols * sizeof(double));
            if (acc == NULL)
                return;
            for (int j = 0; j < cols; j++)
                acc[j] = 0.0;
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++)
                    acc[j] += g[(size_t)r * cols + j];
            for (int j = 0; j < cols; j++)
                db[j] -= (float)acc[j];
        }
    } else {
        for (int r = 0; r < rows; r++) {
            double s = 0.0;
            for (int j = 0; j < cols; j++)
                s += g[(size_t)r * cols + j];
            db[r] += sign * (float)s;
        }
    }
}

static inline float bval(const fivo_tensor *b, int mode, int r, int j)
{
    if (mode == BC_SAME)
        return b->data[(size_t)r * b->cols + j];
    if (mode == BC_ROW)
        return b->data[j];
    return b->data[r];
}

static void addsub_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const float *g = y->grad;
    size_t sz = fivo_tensor_size(y);
    if (fivo__req(a)) {
        float *da = fivo__grad(ctx, a);
        for (size_t i = 0; i < sz; i++)
            da[i] += g[i];
    }
    if (fivo__req(b))
        reduce_into(ctx, n->i[0], g, y->rows, y->cols, fivo__grad(ctx, b), n->f[0]);
}

static void mul_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const float *g = y->grad;
    int mode = n->i[0], rows = y->rows, cols = y->cols;
    if (fivo__req(a)) {
        float *da = fivo__grad(ctx, a);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) {
                size_t i = (size_t)r * cols + j;
                da[i] += g[i] * bval(b, mode, r, j);
            }
    }
    if (fivo__req(b)) {
        float *ga = fivo__alloc_floats(ctx, fivo_tensor_size(y));
        if (ga == NULL)
            return;
        size_t sz = fivo_tensor_size(y);
        for (size_t i = 0; i < sz; i++)
            ga[i] = g[i] * a->data[i];
        reduce_into(ctx, mode, ga, rows, cols, fivo__grad(ctx, b), 1.0f);
    }
}

static fivo_tensor *binary(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b, int op,
                           const char *name)
{
    int mode = bc_mode(a, b);
    if (mode < 0)
        return fivo__bad(ctx, a->rows, a->cols, "%s: shapes %dx%d and %dx%d do not broadcast", name,
                         a->rows, a->cols, b->rows, b->cols);
    int rows = a->rows, cols = a->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, cols);
    if (y == &ctx->dummy)
        return y;
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    for (int r = 0; r < rows; r++) {
        const float *ar = ad + (size_t)r * cols;
        float *yr = yd + (size_t)r * cols;
        if (mode == BC_COL) {
            float s = bd[r];
            if (op == 0)
                for (int j = 0; j < cols; j++) yr[j] = ar[j] + s;
            else if (op == 1)
                for (int j = 0; j < cols; j++) yr[j] = ar[j] - s;
            else
                for (int j = 0; j < cols; j++) yr[j] = ar[j] * s;
        } else {
            const float *br = mode == BC_SAME ? bd + (size_t)r * cols : bd;
            if (op == 0)
                for (int j = 0; j < cols; j++) yr[j] = ar[j] + br[j];
            else if (op == 1)
                for (int j = 0; j < cols; j++) yr[j] = ar[j] - br[j];
            else
                for (int j = 0; j < cols; j++) yr[j] = ar[j] * br[j];
        }
    }
    if (fivo__wants(ctx, a) || fivo__wants(ctx, b)) {
        fivo_node *n = fivo__record(ctx, op == 2 ? mul_backward : addsub_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)a;
            n->in[1] = (fivo_tensor *)b;
            n->i[0] = mode;
            n->f[0] = op == 1 ? -1.0f : 1.0f;
        }
    }
    return y;
}

fivo_tensor *fivo_add(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b) { return binary(ctx, a, b, 0, "add"); }
fivo_tensor *fivo_sub(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b) { return binary(ctx, a, b, 1, "sub"); }
fivo_tensor *fivo_mul(fivo_ctx *ctx, const fivo_tensor *a, const fivo_tensor *b) { return binary(ctx, a, b, 2, "mul"); }

static void scale_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    float s = n->f[0];
    float *da = fivo__grad(ctx, a);
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        da[i] += s * y->grad[i];
}

/* Records y = op(a) with one scalar payload when a wants a gradient. */
static void record_unary(fivo_ctx *ctx, fivo_backward_fn fn, fivo_tensor *y, const fivo_tensor *a,
                         float f)
{
    if (!fivo__wants(ctx, a))
        return;
    fivo_node *n = fivo__record(ctx, fn, y);
    if (n != NULL) {
        n->in[0] = (fivo_tensor *)a;
        n->f[0] = f;
    }
}

fivo_tensor *fivo_scale(fivo_ctx *ctx, const fivo_tensor *a, float s)
{
    fivo_tensor *y = fivo__tensor(ctx, a->rows, a->cols);
    if (y == &ctx->dummy)
        return y;
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        y->data[i] = s * a->data[i];
    record_unary(ctx, scale_backward, y, a, s);
    return y;
}

fivo_tensor *fivo_add_scalar(fivo_ctx *ctx, const fivo_tensor *a, float s)
{
    fivo_tensor *y = fivo__tensor(ctx, a->rows, a->cols);
    if (y == &ctx->dummy)
        return y;
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        y->data[i] = a->data[i] + s;
    record_unary(ctx, scale_backward, y, a, 1.0f);
    return y;
}

static void clamp_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    float floor = n->f[0];
    float *da = fivo__grad(ctx, a);
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        if (a->data[i] > floor)
            da[i] += y->grad[i];
}

fivo_tensor *fivo_clamp_min(fivo_ctx *ctx, const fivo_tensor *a, float floor)
{
    fivo_tensor *y = fivo__tensor(ctx, a->rows, a->cols);
    if (y == &ctx->dummy)
        return y;
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        y->data[i] = a->data[i] <= floor ? floor : a->data[i]; /* NaN propagates */
    record_unary(ctx, clamp_backward, y, a, floor);
    return y;
}
