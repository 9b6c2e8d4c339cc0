/* libFuzzer target: the TFRecord reader (framing, lengths, CRC32C; the
 * fuzzing build skips the CRC comparisons so mutations reach the framing
 * behind them) over an arbitrary file, every record to the end; then the
 * same file through the speech dataset plugin (records -> utterances ->
 * timesteps, statistics, batches), as the host would open it. */
#include "fuzz_util.h"

#include <fivo/config.h>
#include <fivo/plugin_dataset.h>
#include <fivo/tfrecord.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by speech.c (FIVO_PLUGIN_DEFINE_QUERY), linked in. */
const fivo_plugin_descriptor *fivo_plugin_query(uint32_t major, uint32_t minor);

static void through_speech(const char *path)
{
    const fivo_dataset_vtable *vt = fivo_plugin_query(FIVO_ABI_MAJOR, FIVO_ABI_MINOR)->vtable;
    static fivo_config *cfg; /* short timesteps, so small inputs make several */
    if (cfg == NULL) {
        cfg = fivo_config_new();
        fivo_config_set(cfg, "dataset", "samples_per_timestep", "2");
    }
    void *self = NULL;
    fivo_error err = {0};
    if (vt->open(cfg, path, "train", &self, &err) != FIVO_OK)
        return;
    fivo_dataset_info info;
    if (vt->info(self, &info, &err) == FIVO_OK)
        for (uint64_t i = 0; i < 2; i++) {
            fivo_batch b;
            if (vt->batch(self, 2, i == 1, 3, i, &b, &err) != FIVO_OK)
                break;
        }
    vt->close(self);
}

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
    through_speech(path);
    return (int)(sum & 0); /* libFuzzer wants 0 */
}
