/* Speech samples as audio: the converter's statistics (stats.json) and a
 * 16-bit WAV writer. */
#ifndef FIVO_SPEECH_AUDIO_H
#define FIVO_SPEECH_AUDIO_H

#include <stdbool.h>

#include <fivo/error.h>

/* Reads {"mean": M, "std": S, ...} as the timit converter writes it beside
 * the split files. FIVO_ERR_NOT_FOUND when the file is absent. */
fivo_status sp_read_stats(const char *path, double *mean, double *std, fivo_error *err);

/* Writes `path` (temp file + rename) as mono 16-bit PCM WAV at `rate` Hz:
 * the n standardised samples x become x * std + mean, rounded and clipped
 * to the 16-bit range the raw corpus was recorded in. */
fivo_status sp_write_wav(const char *path, const float *x, long n, int rate, double mean,
                         double std, fivo_error *err);

#endif
