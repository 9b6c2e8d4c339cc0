/* Standard MIDI File writer for piano-roll samples (see midi.h): the bytes
 * follow the SMF 1.0 specification (MThd, one MTrk, variable-length delta
 * times, running status not used so every event is self-describing). */
#define _POSIX_C_SOURCE 200809L
#include "midi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fivo/atomic_file.h>

#define TICKS_PER_QUARTER 480

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, uint8_t v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = v;
}

static void put_be(buf *b, uint32_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        put(b, (uint8_t)(v >> (8 * i)));
}

/* Variable-length quantity: 7 bits per byte, high bit set on all but the last. */
static void put_vlq(buf *b, uint32_t v)
{
    uint8_t tmp[5];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v != 0);
    while (n > 1)
        put(b, tmp[--n] | 0x80);
    put(b, tmp[0]);
}

static void put_meta_text(buf *b, uint32_t delta, uint8_t type, const char *text)
{
    put_vlq(b, delta);
    put(b, 0xff);
    put(b, type);
    put_vlq(b, (uint32_t)strlen(text));
    for (const char *c = text; *c; c++)
        put(b, (uint8_t)*c);
}

static int on(const float *frames, int dim, int t, int k) { return frames[(size_t)t * dim + k] > 0.5f; }

fivo_status pr_write_midi(const char *path, const float *frames, int num_frames, int dim,
                          int min_note, int prefix_frames, int bpm, fivo_error *err)
{
    if (num_frames < 0 || dim <= 0 || min_note < 0 || min_note + dim > 128 || bpm <= 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "%s: cannot write notes %d..%d at %d bpm",
                              path, min_note, min_note + dim - 1, bpm);
    buf t = {0};
    put_meta_text(&t, 0, 0x03, "fivo sample");
    put(&t, 0); /* Set Tempo: microseconds per quarter note */
    put(&t, 0xff);
    put(&t, 0x51);
    put(&t, 3);
    put_be(&t, (uint32_t)((60000000 + bpm / 2) / bpm), 3); /* rounded, as MIDI tools do */
    put(&t, 0); /* Program Change, channel 1: Acoustic Grand Piano */
    put(&t, 0xc0);
    put(&t, 0);
    uint32_t last = 0; /* tick of the previous event */
    for (int f = 0; f <= num_frames; f++) {
        uint32_t tick = (uint32_t)f * TICKS_PER_QUARTER;
        /* Offs before ons, so a key released and struck at the same frame is impossible here
         * (a held key stays one note) and the file never has two ons of one key open. */
        for (int k = 0; k < dim; k++) {
            int was = f > 0 && on(frames, dim, f - 1, k), is = f < num_frames && on(frames, dim, f, k);
            if (was && !is) {
                put_vlq(&t, tick - last);
                last = tick;
                put(&t, 0x80);
                put(&t, (uint8_t)(min_note + k));
                put(&t, 64);
            }
        }
        if (f == prefix_frames && f > 0 && f < num_frames) {
            put_meta_text(&t, tick - last, 0x06, "continuation");
            last = tick;
        }
        for (int k = 0; k < dim; k++) {
            int was = f > 0 && on(frames, dim, f - 1, k), is = f < num_frames && on(frames, dim, f, k);
            if (is && !was) {
                put_vlq(&t, tick - last);
                last = tick;
                put(&t, 0x90);
                put(&t, (uint8_t)(min_note + k));
                put(&t, 80);
            }
        }
    }
    put_vlq(&t, (uint32_t)num_frames * TICKS_PER_QUARTER - last); /* End of Track */
    put(&t, 0xff);
    put(&t, 0x2f);
    put(&t, 0);

    buf file = {0};
    put_be(&file, 0x4d546864, 4); /* "MThd" */
    put_be(&file, 6, 4);
    put_be(&file, 0, 2); /* format 0 */
    put_be(&file, 1, 2); /* one track */
    put_be(&file, TICKS_PER_QUARTER, 2);
    put_be(&file, 0x4d54726b, 4); /* "MTrk" */
    put_be(&file, (uint32_t)t.n, 4);
    for (size_t i = 0; i < t.n && !t.oom; i++)
        put(&file, t.p[i]);
    fivo_status st = FIVO_OK;
    if (t.oom || file.oom) {
        st = fivo_error_set(err, FIVO_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    /* the file is built in memory, then written whole */
    st = fivo_file_write_atomic(path, file.p, file.n, err);
out:
    free(t.p);
    free(file.p);
    return st;
}
