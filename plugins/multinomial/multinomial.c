/* Multinomial resampling (the reference's default): N independent draws
 * from the categorical of the normalised weights, by inverse CDF in double.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/resample_hard.h>

FIVO_HARD_RESAMPLER_PLUGIN(FIVO_SCHEME_MULTINOMIAL, "multinomial",
                           "multinomial resampling: N independent categorical draws")
