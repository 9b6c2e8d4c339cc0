/* Systematic resampling: one uniform u per filter, points (i + u) / N.
 * Particle i gets floor(N w_i) or ceil(N w_i) offspring (lowest variance of
 * the schemes here). Ancestors come out in increasing order.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/resample_hard.h>

FIVO_HARD_RESAMPLER_PLUGIN(FIVO_SCHEME_SYSTEMATIC, "systematic",
                           "systematic resampling: one uniform per filter, "
                           "floor/ceil(N w) offspring")
