/* stats.json reader and WAV writer for speech samples (see audio.h). The
 * WAV goes through libsndfile, the library the converter reads TIMIT with. */
#define _POSIX_C_SOURCE 200809L
#include "audio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include <fivo/atomic_file.h>

/* The number after "key": in a flat JSON object; false when absent. */
static bool json_number(const char *text, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != ':')
        return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno != 0)
        return false;
    *out = v;
    return true;
}

fivo_status sp_read_stats(const char *path, double *mean, double *std, fivo_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fivo_error_set(err, errno == ENOENT ? FIVO_ERR_NOT_FOUND : FIVO_ERR_IO,
                              "%s: %s", path, strerror(errno));
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (!json_number(text, "mean", mean) || !json_number(text, "std", std) ||
        !isfinite(*mean) || !(*std > 0.0) || !isfinite(*std))
        return fivo_error_set(err, FIVO_ERR_FORMAT, "%s: expected {\"mean\": M, \"std\": S} "
                              "with a positive finite std", path);
    return FIVO_OK;
}

fivo_status sp_write_wav(const char *path, const float *x, long n, int rate, double mean,
                         double std, fivo_error *err)
{
    short *pcm = malloc(sizeof *pcm * (size_t)(n > 0 ? n : 1));
    if (pcm == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
    for (long i = 0; i < n; i++) {
        double v = nearbyint((double)x[i] * std + mean);
        pcm[i] = (short)(v > 32767.0 ? 32767 : v < -32768.0 ? -32768 : isnan(v) ? 0 : v);
    }
    fivo_atomic_file *f;
    fivo_status st = fivo_atomic_file_open(path, &f, err);
    if (st != FIVO_OK) {
        free(pcm);
        return st;
    }
    /* libsndfile writes the temp file's descriptor; the helper fsyncs and renames it */
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open_fd(fivo_atomic_file_fd(f), SFM_WRITE, &info, SF_FALSE);
    if (sf == NULL) {
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot write WAV: %s", path, sf_strerror(NULL));
        fivo_atomic_file_abort(f);
        free(pcm);
        return st;
    }
    sf_count_t w = sf_write_short(sf, pcm, n);
    int close_rc = sf_close(sf);
    free(pcm);
    if (w != n || close_rc != 0) {
        st = fivo_error_set(err, FIVO_ERR_IO, "%s: cannot write WAV (%lld of %ld samples)", path,
                            (long long)w, n);
        fivo_atomic_file_abort(f);
        return st;
    }
    return fivo_atomic_file_commit(f, err);
}
