/* Adam with TensorFlow's ApplyAdam semantics (the epsilon-hat form, float32
 * moment updates written as TF's kernel writes them) and optional
 * clip_by_global_norm. */
#include <fivo/internal/optim.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fivo_adam {
    fivo_params *params;
    fivo_adam_options opt;
    uint64_t step;
    int n;
    float **m, **v;
};

void fivo_adam_options_default(fivo_adam_options *o)
{
    o->learning_rate = 0.0; /* none: the caller passes its own ([train] learning_rate) */
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->epsilon = 1e-8;
    o->clip_global_norm = 0.0;
}

void fivo_adam_free(fivo_adam *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < a->n; i++) {
        if (a->m)
            free(a->m[i]);
        if (a->v)
            free(a->v[i]);
    }
    free(a->m);
    free(a->v);
    free(a);
}

static float *zero_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 31) & ~(size_t)31;
    float *p = aligned_alloc(32, bytes ? bytes : 32);
    if (p != NULL)
        memset(p, 0, bytes ? bytes : 32);
    return p;
}

fivo_adam *fivo_adam_new(fivo_params *p, const fivo_adam_options *o)
{
    if (o == NULL || !(o->learning_rate > 0.0))
        return NULL; /* the learning rate is the caller's, never a default here */
    fivo_adam *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->params = p;
    a->opt = *o;
    a->n = fivo_params_count(p);
    a->m = calloc((size_t)(a->n ? a->n : 1), sizeof *a->m);
    a->v = calloc((size_t)(a->n ? a->n : 1), sizeof *a->v);
    if (a->m == NULL || a->v == NULL) {
        fivo_adam_free(a);
        return NULL;
    }
    for (int i = 0; i < a->n; i++) {
        size_t sz = fivo_tensor_size(fivo_params_at(p, i, NULL));
        a->m[i] = zero_floats(sz);
        a->v[i] = zero_floats(sz);
        if (a->m[i] == NULL || a->v[i] == NULL) {
            fivo_adam_free(a);
            return NULL;
        }
    }
    return a;
}

fivo_status fivo_adam_step(fivo_adam *a, double *global_norm, fivo_error *err)
{
    double sumsq = 0.0;
    for (int i = 0; i < a->n; i++) {
        const char *name;
        fivo_tensor *t = fivo_params_at(a->params, i, &name);
        size_t sz = fivo_tensor_size(t);
        double s = 0.0;
        for (size_t k = 0; k < sz; k++)
            s += (double)t->grad[k] * t->grad[k];
        if (!isfinite(s)) {
            /* Drop the poisoned gradients so the next step starts clean. */
            fivo_params_zero_grad(a->params);
            return fivo_error_set(err, FIVO_ERR_NUMERIC,
                                  "adam step %llu: gradient of %s is not finite (NaN or inf); no update made",
                                  (unsigned long long)a->step + 1, name);
        }
        sumsq += s;
    }
    double norm = sqrt(sumsq);
    if (global_norm != NULL)
        *global_norm = norm;
    float scale = 1.0f;
    if (a->opt.clip_global_norm > 0.0 && norm > a->opt.clip_global_norm)
        scale = (float)(a->opt.clip_global_norm / norm);

    a->step++;
    double t = (double)a->step;
    /* TF holds beta1, beta2 as float32 scalars: use those values throughout. */
    float b1 = (float)a->opt.beta1, b2 = (float)a->opt.beta2;
    float alpha = (float)(a->opt.learning_rate * sqrt(1.0 - pow((double)b2, t)) / (1.0 - pow((double)b1, t)));
    float omb1 = 1.0f - b1, omb2 = 1.0f - b2;
    float eps = (float)a->opt.epsilon;
    for (int i = 0; i < a->n; i++) {
        fivo_tensor *p = fivo_params_at(a->params, i, NULL);
        float *w = p->data, *g = p->grad, *m = a->m[i], *v = a->v[i];
        size_t sz = fivo_tensor_size(p);
        for (size_t k = 0; k < sz; k++) {
            float gk = g[k] * scale;
            m[k] += (gk - m[k]) * omb1;
            v[k] += (gk * gk - v[k]) * omb2;
            w[k] -= (m[k] * alpha) / (sqrtf(v[k]) + eps);
            g[k] = 0.0f;
        }
    }
    return FIVO_OK;
}

uint64_t fivo_adam_get_step(const fivo_adam *a) { return a->step; }
void fivo_adam_set_step(fivo_adam *a, uint64_t step) { a->step = step; }

float *fivo_adam_moment(fivo_adam *a, int param_index, int which)
{
    if (param_index < 0 || param_index >= a->n || (which != 0 && which != 1))
        return NULL;
    return which == 0 ? a->m[param_index] : a->v[param_index];
}

void fivo_adam_set_learning_rate(fivo_adam *a, double lr) { a->opt.learning_rate = lr; }
