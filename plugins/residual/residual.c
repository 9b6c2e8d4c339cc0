/* Residual resampling: particle i first gets floor(N w_i) copies; the
 * R = N - sum floor(N w_i) remaining ancestors are drawn multinomially from
 * the residuals N w_i - floor(N w_i). Deterministic copies come first.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/resample_hard.h>

FIVO_HARD_RESAMPLER_PLUGIN(FIVO_SCHEME_RESIDUAL, "residual",
                           "residual resampling: floor(N w) copies, "
                           "the rest multinomial on residuals")
