/* libFuzzer target: the timit plugin's per-file checks (NIST SPHERE header
 * fields sample_count / sample_min / sample_max against the data read by
 * libsndfile) on an arbitrary .WAV. The plugin's statics are reached by
 * compiling its source into this target. */
#define _GNU_SOURCE /* memfd_create in fuzz_util.h */
#include "timit.c"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch("timit", data, size);
    wavbuf wb = {0};
    size_t n = 0;
    fivo_error err = {0};
    (void)load_wav(path, &wb, &n, &err);
    free(wb.s);
    return 0;
}
