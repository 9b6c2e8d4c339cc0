/* Piano-roll frames as a Standard MIDI File (format 0, one track). */
#ifndef FIVO_PIANOROLL_MIDI_H
#define FIVO_PIANOROLL_MIDI_H

#include <fivo/error.h>

/* Writes `path` (temp file + rename): frames [num_frames, dim], a key
 * sounding where the value is > 0.5, dimension k being MIDI note
 * min_note + k; one frame lasts one quarter note at `bpm`. Each run of
 * frames where a key sounds is one note-on/note-off pair; a marker
 * "continuation" stands at the first sampled frame (prefix_frames). */
fivo_status pr_write_midi(const char *path, const float *frames, int num_frames, int dim,
                          int min_note, int prefix_frames, int bpm, fivo_error *err);

#endif
