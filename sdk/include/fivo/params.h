/* The parameter store: named float32 tensors whose data and gradients live
 * outside the arena. Names are stable paths ("vrnn/prior/fc1/w"), used by
 * checkpoints. Models resolve their parameters once at creation and keep the
 * fivo_tensor pointers (valid for the store's lifetime): no name lookups in
 * the hot loop. */
#ifndef FIVO_PARAMS_H
#define FIVO_PARAMS_H

#include <stdint.h>

#include <fivo/error.h>
#include <fivo/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fivo_init {
    FIVO_INIT_ZEROS = 0,
    FIVO_INIT_XAVIER_UNIFORM = 1, /* U(-a, a), a = sqrt(6 / (rows + cols)) */
    FIVO_INIT_NORMAL = 2          /* N(0, 1) * 0.01 */
} fivo_init;

typedef struct fivo_params fivo_params;

/* Initial values are drawn from (seed, FIVO_RNG_INIT, hash of the name), so
 * they do not depend on creation order. */
fivo_params *fivo_params_new(uint64_t seed);
void fivo_params_free(fivo_params *p);

/* Adds a parameter (FIVO_TENSOR_PARAM | FIVO_TENSOR_REQUIRES_GRAD, grad
 * zeroed). A duplicate name is FIVO_ERR_INVALID and returns NULL. */
fivo_tensor *fivo_params_add(fivo_params *p, const char *name, int rows, int cols,
                             fivo_init init, fivo_error *err);
fivo_tensor *fivo_params_find(const fivo_params *p, const char *name);
int fivo_params_count(const fivo_params *p);
/* The i-th parameter in creation order; *name (if given) is its name. */
fivo_tensor *fivo_params_at(const fivo_params *p, int i, const char **name);
void fivo_params_zero_grad(fivo_params *p);
size_t fivo_params_num_values(const fivo_params *p); /* total floats */

#ifdef __cplusplus
}
#endif
#endif
