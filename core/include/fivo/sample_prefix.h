/* Prefix sampling, as the reference's run_sample: condition the model on a
 * prefix of each sequence with a bound, then sample on from the bound's
 * final particles. Host-facing: the host opens the plugins, restores the
 * checkpoint, reads the batch, and writes and reports what this returns. */
#ifndef FIVO_SAMPLE_PREFIX_H
#define FIVO_SAMPLE_PREFIX_H

#include <stdint.h>

#include <fivo/fivo.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fivo_sample_setup {
    fivo_model *model;          /* must have sample_step */
    const fivo_bound *bound;    /* conditions on the prefix */
    fivo_resampler *resampler;
    fivo_ctx *ctx;              /* reset here; gradients turned off */
    uint64_t seed;              /* [fivo] random_seed: the sampling domain's stream */
    int num_samples;            /* N particles per sequence */
} fivo_sample_setup;

/* Conditions on the first `prefix_len` (P) steps of every sequence of
 * `full` (zero past its end, as the reference's slice of the padded batch),
 * tiles the bound's final particles up to N per sequence (ELBO keeps one),
 * then samples `sample_len` (L) steps. Fills
 *   prefixes [P][B][D]     the conditioning targets
 *   samples  [L][B][N][D]  sample l of particle p of sequence b.
 * Errors name the stage ("conditioning on the prefix: ", "sampling: "). */
fivo_status fivo_sample_prefix(const fivo_sample_setup *s, const fivo_batch *full, int prefix_len,
                               int sample_len, float *prefixes, float *samples, fivo_error *err);

#ifdef __cplusplus
}
#endif
#endif
