/* Ops that move values around: concat/slice along columns, reshape, row
 * gather (resampling), masked row select, stop-gradient. */
#include "ops_internal.h"

static void concat_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor **parts = n->aux, *y = n->out;
    int np = n->i[0], rows = y->rows, cols = y->cols, off = 0;
    for (int p = 0; p < np; p++) {
        fivo_tensor *t = parts[p];
        int c = t->cols;
        if (fivo__req(t)) {
            float *dt = fivo__grad(ctx, t);
            for (int r = 0; r < rows; r++) {
                const float *g = y->grad + (size_t)r * cols + off;
                float *d = dt + (size_t)r * c;
                for (int j = 0; j < c; j++)
                    d[j] += g[j];
            }
        }
        off += c;
    }
}

fivo_tensor *fivo_concat_cols(fivo_ctx *ctx, int n, const fivo_tensor *const *parts)
{
    if (n <= 0 || parts == NULL)
        return fivo__bad(ctx, 1, 1, "concat_cols: no parts");
    int rows = parts[0]->rows, cols = 0;
    bool wants = false;
    for (int p = 0; p < n; p++) {
        if (parts[p]->rows != rows)
            return fivo__bad(ctx, rows, 1, "concat_cols: part %d has %d rows, part 0 has %d", p,
                             parts[p]->rows, rows);
        cols += parts[p]->cols;
        wants = wants || fivo__wants(ctx, parts[p]);
    }
    fivo_tensor *y = fivo__tensor(ctx, rows, cols);
    if (y == &ctx->dummy)
        return y;
    for (int r = 0; r < rows; r++) {
        float *yr = y->data + (size_t)r * cols;
        for (int p = 0; p < n; p++) {
            int c = parts[p]->cols;
            memcpy(yr, parts[p]->data + (size_t)r * c, (size_t)c * sizeof(float));
            yr += c;
        }
    }
    if (wants) {
        fivo_tensor **copy = fivo__alloc(ctx, (size_t)n * sizeof *copy);
        if (copy == NULL)
            return y;
        memcpy(copy, parts, (size_t)n * sizeof *copy);
        fivo_node *nd = fivo__record(ctx, concat_backward, y);
        if (nd != NULL) {
            nd->aux = copy;
            nd->i[0] = n;
        }
    }
    return y;
}

static void slice_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    int col0 = n->i[0], c = y->cols;
    float *da = fivo__grad(ctx, a);
    for (int r = 0; r < y->rows; r++) {
        const float *g = y->grad + (size_t)r * c;
        float *d = da + (size_t)r * a->cols + col0;
        for (int j = 0; j < c; j++)
            d[j] += g[j];
    }
}

fivo_tensor *fivo_slice_cols(fivo_ctx *ctx, const fivo_tensor *a, int col0, int ncols)
{
    if (col0 < 0 || ncols <= 0 || col0 + ncols > a->cols)
        return fivo__bad(ctx, a->rows, ncols > 0 ? ncols : 1,
                         "slice_cols: columns [%d, %d) outside a %dx%d tensor", col0, col0 + ncols,
                         a->rows, a->cols);
    fivo_tensor *y = fivo__tensor(ctx, a->rows, ncols);
    if (y == &ctx->dummy)
        return y;
    for (int r = 0; r < a->rows; r++)
        memcpy(y->data + (size_t)r * ncols, a->data + (size_t)r * a->cols + col0,
               (size_t)ncols * sizeof(float));
    if (fivo__wants(ctx, a)) {
        fivo_node *n = fivo__record(ctx, slice_backward, y);
        if (n != NULL) {
            n->in[0] = (fivo_tensor *)a;
            n->i[0] = col0;
        }
    }
    return y;
}

static void reshape_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    float *da = fivo__grad(ctx, a);
    size_t sz = fivo_tensor_size(y);
    for (size_t i = 0; i < sz; i++)
        da[i] += y->grad[i];
}

/* A header that shares a's values. */
static fivo_tensor *alias(fivo_ctx *ctx, const fivo_tensor *a, int rows, int cols)
{
    fivo_tensor *y = fivo__alloc(ctx, sizeof *y);
    if (y == NULL)
        return &ctx->dummy;
    y->rows = rows;
    y->cols = cols;
    y->data = a->data;
    y->grad = NULL;
    y->node = -1;
    y->flags = 0;
    return y;
}

fivo_tensor *fivo_reshape(fivo_ctx *ctx, const fivo_tensor *a, int rows, int cols)
{
    if (rows <= 0 || cols <= 0 || (size_t)rows * (size_t)cols != fivo_tensor_size(a))
        return fivo__bad(ctx, rows, cols, "reshape: %dx%d cannot become %dx%d", a->rows, a->cols, rows,
                         cols);
    fivo_tensor *y = alias(ctx, a, rows, cols);
    if (y != &ctx->dummy && fivo__wants(ctx, a)) {
        fivo_node *n = fivo__record(ctx, reshape_backward, y);
        if (n != NULL)
            n->in[0] = (fivo_tensor *)a;
    }
    return y;
}

fivo_tensor *fivo_stop_gradient(fivo_ctx *ctx, const fivo_tensor *a)
{
    return alias(ctx, a, a->rows, a->cols);
}

static void gather_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *y = n->out;
    const int32_t *idx = n->aux;
    int c = a->cols;
    float *da = fivo__grad(ctx, a);
    for (int i = 0; i < y->rows; i++) {
        const float *g = y->grad + (size_t)i * c;
        float *d = da + (size_t)idx[i] * c;
        for (int j = 0; j < c; j++)
            d[j] += g[j];
    }
}

fivo_tensor *fivo_gather_rows(fivo_ctx *ctx, const fivo_tensor *a, const int32_t *index, int n)
{
    if (n <= 0 || index == NULL)
        return fivo__bad(ctx, 1, a->cols, "gather_rows: %d indices", n);
    for (int i = 0; i < n; i++)
        if (index[i] < 0 || index[i] >= a->rows)
            return fivo__bad(ctx, n, a->cols, "gather_rows: index[%d] = %d outside [0, %d)", i,
                             index[i], a->rows);
    int c = a->cols;
    fivo_tensor *y = fivo__tensor(ctx, n, c);
    if (y == &ctx->dummy)
        return y;
    for (int i = 0; i < n; i++)
        memcpy(y->data + (size_t)i * c, a->data + (size_t)index[i] * c, (size_t)c * sizeof(float));
    if (fivo__wants(ctx, a)) {
        int32_t *copy = fivo__alloc(ctx, (size_t)n * sizeof *copy);
        if (copy == NULL)
            return y;
        memcpy(copy, index, (size_t)n * sizeof *copy);
        fivo_node *nd = fivo__record(ctx, gather_backward, y);
        if (nd != NULL) {
            nd->in[0] = (fivo_tensor *)a;
            nd->aux = copy;
        }
    }
    return y;
}

static void select_backward(fivo_ctx *ctx, fivo_node *n)
{
    fivo_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const uint8_t *mask = n->aux;
    int c = y->cols;
    float *da = fivo__req(a) ? fivo__grad(ctx, a) : NULL;
    float *db = fivo__req(b) ? fivo__grad(ctx, b) : NULL;
    for (int r = 0; r < y->rows; r++) {
        float *d = mask[r] ? da : db;
        if (d == NULL)
            continue;
        const float *g = y->grad + (size_t)r * c;
        d += (size_t)r * c;
        for (int j = 0; j < c; j++)
            d[j] += g[j];
    }
}

fivo_tensor *fivo_select_rows(fivo_ctx *ctx, const uint8_t *mask, const fivo_tensor *a,
                              const fivo_tensor *b)
{
    if (a->rows != b->rows || a->cols != b->cols || mask == NULL)
        return fivo__bad(ctx, a->rows, a->cols, "select_rows: shapes %dx%d and %dx%d differ%s", a->rows,
                         a->cols, b->rows, b->cols, mask == NULL ? " (no mask)" : "");
    int rows = a->rows, c = a->cols;
    fivo_tensor *y = fivo__tensor(ctx, rows, c);
    if (y == &ctx->dummy)
        return y;
    for (int r = 0; r < rows; r++)
        memcpy(y->data + (size_t)r * c, (mask[r] ? a : b)->data + (size_t)r * c, (size_t)c * sizeof(float));
    if (fivo__wants(ctx, a) || fivo__wants(ctx, b)) {
        uint8_t *copy = fivo__alloc(ctx, (size_t)rows);
        if (copy == NULL)
            return y;
        memcpy(copy, mask, (size_t)rows);
        fivo_node *nd = fivo__record(ctx, select_backward, y);
        if (nd != NULL) {
            nd->in[0] = (fivo_tensor *)a;
            nd->in[1] = (fivo_tensor *)b;
            nd->aux = copy;
        }
    }
    return y;
}
