/* Writes the fuzz targets' seed corpora: small valid inputs of each format,
 * made by fivo's own writers where it has one (checkpoint, TFRecord), so the
 * fuzzer starts from inputs that pass every check.
 *   fivo_fuzz_seeds OUTDIR   ->  OUTDIR/<target>/seed-*  */
#include "fuzz_util.h"

#include <errno.h>
#include <sys/stat.h>

#include <fivo/internal/checkpoint.h>
#include <fivo/internal/optim.h>
#include <fivo/params.h>
#include <fivo/tfrecord.h>

#include "fixtures.h"

static const char *g_out;

static void put(const char *target, const char *name, const void *data, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Reads a file written by a fivo writer back into the corpus. */
static void put_file(const char *target, const char *name, const char *src)
{
    FILE *f = fopen(src, "rb");
    if (f == NULL) {
        perror(src);
        exit(1);
    }
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    put(target, name, buf, n);
    unlink(src);
}

/* The tests' pianoroll fixtures (tests/fixtures), cut to 2 steps a sequence:
 * protocol 2 with numpy int64 notes as in JSB, protocol 0 with a stored
 * train_mean as in the reference's tiny file; and a hand-written protocol 0
 * with longs, a float and memo reuse. */
static void pickle_seeds(void)
{
    static const struct {
        const char *name;
        unsigned char *(*bytes)(int, size_t *);
    } fx[] = {{"seed-proto2-jsb", fixture_jsb_like_bytes},
              {"seed-proto0-tiny", fixture_tiny_pianoroll_bytes}};
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        size_t n = 0;
        unsigned char *b = fx[i].bytes(2, &n);
        if (b == NULL) {
            fprintf(stderr, "seeds: out of memory\n");
            exit(1);
        }
        put("pickle", fx[i].name, b, n);
        put("pianoroll", fx[i].name, b, n);
        free(b);
    }
    static const char p0[] = "(dp0\nS'train'\np1\n(lp2\n(lp3\n(I60\nL64L\ntp4\naa"
                             "sS'valid'\np5\ng2\nsS'test'\np6\n(lp7\nsS'x'\nF0.5\ns.";
    put("pickle", "seed-proto0", p0, sizeof p0 - 1);
    put("pianoroll", "seed-proto0", p0, sizeof p0 - 1);
}

static void checkpoint_seeds(void)
{
    /* The names and shapes fuzz_checkpoint.c loads into. */
    fivo_params *p = fivo_params_new(1);
    fivo_params_add(p, "m/w", 3, 2, FIVO_INIT_XAVIER_UNIFORM, NULL);
    fivo_params_add(p, "m/b", 1, 2, FIVO_INIT_ZEROS, NULL);
    fivo_adam_options o;
    fivo_adam_options_default(&o);
    o.learning_rate = 1e-3;
    fivo_adam *a = fivo_adam_new(p, &o);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/ckpt.tmp", g_out);
    fivo_checkpoint_meta meta = {7, 3, 0, -1.5, 0};
    fivo_error err = {0};
    if (fivo_checkpoint_save(tmp, p, a, &meta, &err) != FIVO_OK ||
        (put_file("checkpoint", "seed-adam", tmp), 0) ||
        fivo_checkpoint_save(tmp, p, NULL, &meta, &err) != FIVO_OK) {
        fprintf(stderr, "seeds: %s\n", err.message);
        exit(1);
    }
    put_file("checkpoint", "seed-params", tmp);
    fivo_adam_free(a);
    fivo_params_free(p);
}

static void tfrecord_seeds(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rec.tmp", g_out);
    fivo_tfrecord_writer *w = NULL;
    fivo_error err = {0};
    float x[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1e-3f, -7.0f};
    if (fivo_tfrecord_writer_open(path, &w, &err) != FIVO_OK ||
        fivo_tfrecord_writer_write(w, x, sizeof x, &err) != FIVO_OK ||
        fivo_tfrecord_writer_write(w, x, 8, &err) != FIVO_OK ||
        fivo_tfrecord_writer_write(w, x, 0, &err) != FIVO_OK ||
        fivo_tfrecord_writer_commit(w, &err) != FIVO_OK) {
        fprintf(stderr, "seeds: %s\n", err.message);
        exit(1);
    }
    put_file("tfrecord", "seed-3records", path);
    if (fixture_write_tiny_speech(path) != 0)
        exit(1);
    put_file("tfrecord", "seed-tiny-speech", path);
}

static void timit_seeds(void)
{
    /* A 1024-byte SPHERE header and 4 little-endian 16-bit samples. */
    unsigned char buf[1024 + 8];
    memset(buf, ' ', 1024);
    static const char head[] = "NIST_1A\n   1024\n"
                               "sample_count -i 4\nsample_n_bytes -i 2\nchannel_count -i 1\n"
                               "sample_byte_format -s2 01\nsample_rate -i 16000\n"
                               "sample_coding -s3 pcm\nsample_min -i -3\nsample_max -i 5\n"
                               "end_head\n";
    memcpy(buf, head, sizeof head - 1);
    short s[4] = {1, -3, 5, 0};
    for (int i = 0; i < 4; i++) {
        buf[1024 + 2 * i] = (unsigned char)(s[i] & 0xff);
        buf[1024 + 2 * i + 1] = (unsigned char)((unsigned short)s[i] >> 8);
    }
    put("timit", "seed-sphere", buf, sizeof buf);
}

static void config_seeds(void)
{
    static const char a[] = "fivo.batch_size=8\nmodel.latent_size=16\n";
    static const char b[] = "[fivo]\nlogdir = /tmp/x\nbatch_size = 4\n# c\n[train]\n"
                            "learning_rate = 3e-4\nnormalize_by_seq_len = false\n"
                            "[model]\nplugin = vrnn\npath = a\\sb\\tc\n";
    char buf[512];
    memcpy(buf, a, sizeof a - 1);
    buf[sizeof a - 1] = 0;
    memcpy(buf + sizeof a, b, sizeof b - 1);
    put("config", "seed-flags-and-file", buf, sizeof a + sizeof b - 1);
    put("config", "seed-file", b + 0, sizeof b - 1);
}

static void descriptor_seeds(void)
{
    /* Decoded by fuzz_descriptor.c: flags 1|4 (right major, row stride at
     * least sizeof(fivo_option)), minor 0, kind 1 (model), "vrnn", ... */
    static const unsigned char model[] = {
        0x05, 0x00, 0x01, 1, 'v', 'r', 'n', 'n', 0, 1, '1', '.', '0', 0, 1, 'd', 0,
        40,   /* vtable_size / 8 */
        2,    /* options */
        0,    /* extra stride */
        1, 'k', 'e', 'y', 0, 1, 1, '4', 0, 1, 'h', 0, 0,
        1, 'm', 'o', 'd', 'e', 0, 4, 1, 'a', 0, 1, 'h', 0, 1, 'a', '|', 'b', 0,
        1,    /* dataset preferences */
        1, 'c', 'h', 'a', 'i', 'n', 0, 1, 1, 1, 1, 'k', 0, 1, 'v', 0, 0};
    put("descriptor", "seed-model", model, sizeof model);
    static const unsigned char wrong_abi[] = {0x00, 0, 0, 0, 9, 1, 2, 1, 'x', 0};
    put("descriptor", "seed-wrong-abi", wrong_abi, sizeof wrong_abi);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    if (mkdir(g_out, 0755) != 0 && errno != EEXIST) {
        perror(g_out);
        return 1;
    }
    pickle_seeds();
    checkpoint_seeds();
    tfrecord_seeds();
    timit_seeds();
    config_seeds();
    descriptor_seeds();
    return 0;
}
