/* A padded, time-major batch of sequences and what a model needs to know
 * about the data when it is created. */
#ifndef FIVO_BATCH_H
#define FIVO_BATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_batch {
    int max_len;            /* T: longest length in the batch */
    int batch_size;         /* B */
    int dim;                /* D */
    const float *inputs;    /* [T, B, D]: targets shifted one step (x_{t-1}), zero at t = 0 and past each length */
    const float *targets;   /* [T, B, D]: x_t, zero past each length */
    const int32_t *lengths; /* [B] */
    const int32_t *seq_ids; /* [B]: index of each sequence in its split (stable RNG keys), or NULL */
    size_t struct_size;     /* (2.2) see "Growing structs" in fivo/abi.h; fields only after it */
} fivo_batch;

static inline const float *fivo_batch_at(const float *x, const fivo_batch *b, int t, int seq)
{
    return x + ((size_t)t * (size_t)b->batch_size + (size_t)seq) * (size_t)b->dim;
}

/* What a model is told about its data at creation. */
typedef struct fivo_data_spec {
    int dim;                /* observation width D */
    const char *kind;       /* "binary" (pianoroll: Bernoulli emission) or "real" (speech, chain: Normal) */
    const double *mean;     /* [dim] train mean (pianoroll note frequency), or NULL */
    int num_timesteps;      /* fixed length for synthetic data (chain), else 0 */
    size_t struct_size;     /* (2.2) set by the host (fivo/abi.h, "Growing structs") */
} fivo_data_spec;

#ifdef __cplusplus
}
#endif
#endif
