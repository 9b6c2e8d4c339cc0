/* The parameter store: named tensors outside the arena, initialised from
 * (seed, FIVO_RNG_INIT, FNV-1a of the name) so creation order is irrelevant. */
#include <fivo/params.h>
#include <fivo/rng.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct param_entry {
    char *name;
    fivo_tensor *t; /* separately allocated: pointers stay valid as the store grows */
} param_entry;

struct fivo_params {
    uint64_t seed;
    param_entry *v;
    int n, cap;
    size_t num_values;
};

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    return h;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c != NULL)
        memcpy(c, s, n);
    return c;
}

static float *aligned_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 31) & ~(size_t)31;
    if (bytes == 0)
        bytes = 32;
    float *p = aligned_alloc(32, bytes);
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

fivo_params *fivo_params_new(uint64_t seed)
{
    fivo_params *p = calloc(1, sizeof *p);
    if (p != NULL)
        p->seed = seed;
    return p;
}

void fivo_params_free(fivo_params *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].t->data);
        free(p->v[i].t->grad);
        free(p->v[i].t);
    }
    free(p->v);
    free(p);
}

fivo_tensor *fivo_params_find(const fivo_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return p->v[i].t;
    return NULL;
}

static void init_values(const fivo_params *p, const char *name, fivo_tensor *t, fivo_init init)
{
    if (init == FIVO_INIT_ZEROS)
        return;
    fivo_rng r = fivo_rng_make(p->seed, FIVO_RNG_INIT, fnv1a64(name));
    for (int i = 0; i < t->rows; i++) {
        float *row = t->data + (size_t)i * t->cols;
        if (init == FIVO_INIT_XAVIER_UNIFORM) {
            float a = (float)sqrt(6.0 / (double)(t->rows + t->cols));
            fivo_rng_uniform(&r, (uint32_t)i, row, t->cols);
            for (int j = 0; j < t->cols; j++)
                row[j] = a * (2.0f * row[j] - 1.0f);
        } else {
            fivo_rng_normal(&r, (uint32_t)i, row, t->cols);
            for (int j = 0; j < t->cols; j++)
                row[j] *= 0.01f;
        }
    }
}

fivo_tensor *fivo_params_add(fivo_params *p, const char *name, int rows, int cols, fivo_init init,
                             fivo_error *err)
{
    if (name == NULL || name[0] == '\0') {
        fivo_error_set(err, FIVO_ERR_INVALID, "params: empty parameter name");
        return NULL;
    }
    if (rows <= 0 || cols <= 0) {
        fivo_error_set(err, FIVO_ERR_INVALID, "params: %s: invalid shape %dx%d", name, rows, cols);
        return NULL;
    }
    if (init != FIVO_INIT_ZEROS && init != FIVO_INIT_XAVIER_UNIFORM && init != FIVO_INIT_NORMAL) {
        fivo_error_set(err, FIVO_ERR_INVALID, "params: %s: unknown init %d", name, (int)init);
        return NULL;
    }
    if (fivo_params_find(p, name) != NULL) {
        fivo_error_set(err, FIVO_ERR_INVALID, "params: duplicate parameter name '%s'", name);
        return NULL;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        param_entry *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (v == NULL) {
            fivo_error_set(err, FIVO_ERR_NOMEM, "params: %s: out of memory", name);
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    size_t n = (size_t)rows * (size_t)cols;
    fivo_tensor *t = calloc(1, sizeof *t);
    char *nm = copy_string(name);
    float *data = aligned_floats(n), *grad = aligned_floats(n);
    if (t == NULL || nm == NULL || data == NULL || grad == NULL) {
        free(t);
        free(nm);
        free(data);
        free(grad);
        fivo_error_set(err, FIVO_ERR_NOMEM, "params: %s: cannot allocate %zu values", name, n);
        return NULL;
    }
    t->rows = rows;
    t->cols = cols;
    t->data = data;
    t->grad = grad;
    t->node = -1;
    t->flags = FIVO_TENSOR_PARAM | FIVO_TENSOR_REQUIRES_GRAD;
    init_values(p, name, t, init);
    p->v[p->n].name = nm;
    p->v[p->n].t = t;
    p->n++;
    p->num_values += n;
    return t;
}

int fivo_params_count(const fivo_params *p) { return p->n; }

fivo_tensor *fivo_params_at(const fivo_params *p, int i, const char **name)
{
    if (i < 0 || i >= p->n) {
        if (name != NULL)
            *name = NULL;
        return NULL;
    }
    if (name != NULL)
        *name = p->v[i].name;
    return p->v[i].t;
}

void fivo_params_zero_grad(fivo_params *p)
{
    for (int i = 0; i < p->n; i++)
        memset(p->v[i].t->grad, 0, fivo_tensor_size(p->v[i].t) * sizeof(float));
}

size_t fivo_params_num_values(const fivo_params *p) { return p->num_values; }
