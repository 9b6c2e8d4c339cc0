/* Stratified resampling: one uniform u_i per stratum, points (i + u_i) / N.
 * Particle i gets floor(N w_i) or ceil(N w_i) offspring. Ancestors come out
 * in increasing order.
 * The arithmetic is fivo_resample_hard's (core/inference/resample_hard.c). */
#include <fivo/resample_hard.h>

FIVO_HARD_RESAMPLER_PLUGIN(FIVO_SCHEME_STRATIFIED, "stratified",
                           "stratified resampling: one uniform per stratum "
                           "(offspring floor(N w)-1..ceil(N w)+1)")
