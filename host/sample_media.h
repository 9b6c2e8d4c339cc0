/* The sample mode's media files (MIDI, WAV, ...) written by the dataset plugin. */
#ifndef FIVO_HOST_SAMPLE_MEDIA_H
#define FIVO_HOST_SAMPLE_MEDIA_H

#include "session.h"

/* prefixes [P, B, D] and samples [L, B, N, D] as samples.npz holds them.
 * Returns 0 (also when the dataset renders nothing, with a warning when it
 * says why), or 1 after printing the error. */
int fivo_host_write_sample_media(fivo_session *s, const char *out_dir, const float *prefixes,
                                 const float *samples, int P, int L, int B, int N, int D);

#endif
