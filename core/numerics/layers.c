/* Linear and MLP layers (each layer one fused tape node). */
#include "ops_internal.h"

#include <fivo/layers.h>

#include <stdio.h>

fivo_status fivo_linear_init(fivo_linear *l, fivo_params *p, const char *prefix, int in, int out,
                             fivo_error *err)
{
    char name[512];
    memset(l, 0, sizeof *l);
    snprintf(name, sizeof name, "%s/w", prefix);
    l->w = fivo_params_add(p, name, in, out, FIVO_INIT_XAVIER_UNIFORM, err);
    if (l->w == NULL)
        return err ? err->code : FIVO_ERR_INVALID;
    snprintf(name, sizeof name, "%s/b", prefix);
    l->b = fivo_params_add(p, name, 1, out, FIVO_INIT_ZEROS, err);
    if (l->b == NULL)
        return err ? err->code : FIVO_ERR_INVALID;
    l->in = in;
    l->out = out;
    return FIVO_OK;
}

fivo_tensor *fivo_linear_forward(fivo_ctx *ctx, const fivo_linear *l, const fivo_tensor *x)
{
    return fivo__linear(ctx, x, l->w, l->b, false);
}

fivo_status fivo_mlp_init(fivo_mlp *m, fivo_params *p, const char *prefix, int in, const int *sizes, int n,
                          fivo_error *err)
{
    memset(m, 0, sizeof *m);
    if (n <= 0 || n > FIVO_MLP_MAX_LAYERS)
        return fivo_error_set(err, FIVO_ERR_INVALID, "mlp %s: %d layers (allowed 1..%d)", prefix, n,
                              FIVO_MLP_MAX_LAYERS);
    char name[512];
    for (int i = 0; i < n; i++) {
        if (sizes[i] <= 0)
            return fivo_error_set(err, FIVO_ERR_INVALID, "mlp %s: layer %d has width %d", prefix, i + 1,
                                  sizes[i]);
        snprintf(name, sizeof name, "%s/fc%d", prefix, i + 1);
        fivo_status st = fivo_linear_init(&m->layers[i], p, name, in, sizes[i], err);
        if (st != FIVO_OK)
            return st;
        in = sizes[i];
    }
    m->num_layers = n;
    return FIVO_OK;
}

fivo_tensor *fivo_mlp_forward(fivo_ctx *ctx, const fivo_mlp *m, const fivo_tensor *x)
{
    const fivo_tensor *h = x;
    for (int i = 0; i < m->num_layers; i++)
        h = fivo__linear(ctx, h, m->layers[i].w, m->layers[i].b, i + 1 < m->num_layers);
    return (fivo_tensor *)h;
}

fivo_tensor *fivo_linear_pre(fivo_ctx *ctx, const fivo_tensor *x, const fivo_tensor *w,
                             const fivo_tensor *b, const fivo_tensor *pre, bool relu)
{
    return fivo__linear_pre(ctx, x, w, b, pre, relu);
}

fivo_tensor *fivo_param_rows(fivo_ctx *ctx, const fivo_tensor *param, int row0, int n)
{
    if (!(param->flags & FIVO_TENSOR_PARAM) || param->grad == NULL || row0 < 0 || n <= 0 ||
        row0 + n > param->rows)
        return fivo__bad(ctx, n > 0 ? n : 1, param->cols,
                         "param_rows: rows [%d, %d) of a %dx%d %s", row0, row0 + n, param->rows,
                         param->cols, (param->flags & FIVO_TENSOR_PARAM) ? "parameter" : "non-parameter");
    fivo_tensor *v = fivo__alloc(ctx, sizeof *v);
    if (v == NULL)
        return &ctx->dummy;
    size_t off = (size_t)row0 * (size_t)param->cols;
    v->rows = n;
    v->cols = param->cols;
    v->data = param->data + off;
    v->grad = param->grad + off;
    v->node = -1;
    v->flags = param->flags;
    return v;
}

fivo_tensor *fivo_mlp_forward_pre(fivo_ctx *ctx, const fivo_mlp *m, const fivo_tensor *x,
                                  int x_row0, const fivo_tensor *pre)
{
    if (m->num_layers <= 0)
        return fivo__bad(ctx, x->rows, 1, "mlp_pre: an MLP without layers");
    const fivo_tensor *w1 = m->layers[0].w;
    if (x_row0 != 0 || x->cols != w1->rows)
        w1 = fivo_param_rows(ctx, w1, x_row0, x->cols);
    const fivo_tensor *h = fivo__linear_pre(ctx, x, w1, m->layers[0].b, pre, m->num_layers > 1);
    for (int i = 1; i < m->num_layers; i++)
        h = fivo__linear(ctx, h, m->layers[i].w, m->layers[i].b, i + 1 < m->num_layers);
    return (fivo_tensor *)h;
}
