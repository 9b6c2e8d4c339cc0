/* libFuzzer target: the TFRecord reader (framing, lengths, CRC32C; the
 * fuzzing build skips the CRC comparisons so mutations reach the framing
 * behind them) over an arbitrary file, every record to the end. */
#include "fuzz_util.h"

#include <fivo/tfrecord.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch("tfrecord", data, size);
    fivo_tfrecord_reader *r = NULL;
    fivo_error err = {0};
    if (fivo_tfrecord_reader_open(path, &r, &err) != FIVO_OK)
        return 0;
    const uint8_t *rec;
    size_t len;
    uint32_t sum = 0;
    while (fivo_tfrecord_reader_next(r, &rec, &len, &err) == FIVO_OK) {
        /* Touch both ends of the record, so ASan sees a bad length. */
        if (len > 0)
            sum += rec[0] + rec[len - 1];
    }
    (void)fivo_tfrecord_reader_offset(r);
    fivo_tfrecord_reader_close(r);
    return (int)(sum & 0); /* libFuzzer wants 0 */
}
