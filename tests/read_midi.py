#!/usr/bin/python3
"""Reads the MIDI samples of a sample run with mido and checks them against
samples.npz (numpy), independently of fivo's code.

    read_midi.py OUT_DIR MIN_NOTE BPM

For every prefix b and sample n, samples/prefix<b>_sample<n>.mid must hold
one track whose notes, laid back on a grid of one quarter note per frame,
equal prefixes[:, b] followed by samples[:, b, n] (a key sounds where the
value is > 0.5), with one note-on/off pair per run of a held key, the
stated tempo, and a "continuation" marker at the first sampled frame.
Exit 0 with "ok ..."; 77 when mido or numpy is missing."""
import os
import sys


def main():
    out, min_note, bpm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        import mido
        import numpy as np
    except ImportError as e:
        print("skip: %s" % e)
        return 77
    d = np.load(os.path.join(out, "samples.npz"))
    pre, smp = d["prefixes"], d["samples"]
    P, B, D = pre.shape
    L, _, N, _ = smp.shape
    files = notes_total = 0
    for b in range(B):
        for n in range(N):
            want = np.concatenate([pre[:, b, :], smp[:, b, n, :]]) > 0.5
            path = os.path.join(out, "samples", "prefix%d_sample%d.mid" % (b, n))
            mid = mido.MidiFile(path)
            assert mid.type == 0 and len(mid.tracks) == 1, (mid.type, len(mid.tracks))
            tpb = mid.ticks_per_beat
            tick, tempo, marker = 0, None, None
            sounding = {}
            got = np.zeros((P + L, D), dtype=bool)
            runs = 0
            for msg in mid.tracks[0]:
                tick += msg.time
                if msg.type == "set_tempo":
                    tempo = msg.tempo
                elif msg.type == "marker":
                    marker = (msg.text, tick)
                elif msg.type == "note_on" and msg.velocity > 0:
                    assert msg.note not in sounding, "note %d struck twice" % msg.note
                    sounding[msg.note] = tick
                elif msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
                    start = sounding.pop(msg.note)
                    assert start % tpb == 0 and tick % tpb == 0, (start, tick, tpb)
                    got[start // tpb:tick // tpb, msg.note - min_note] = True
                    runs += 1
            assert not sounding, "notes never released: %s" % sorted(sounding)
            assert tempo == mido.bpm2tempo(bpm), (tempo, bpm)
            assert abs(mid.length - (P + L) * 60.0 / bpm) < 1e-6 * (P + L), (mid.length, P + L)
            if P < P + L and want.any():
                assert marker == ("continuation", P * tpb), marker
            bad = np.argwhere(got != want)
            assert bad.size == 0, "%s: frame/key mismatches %s" % (path, bad[:5].tolist())
            # one note per run of a held key
            padded = np.vstack([np.zeros((1, D), bool), want])
            assert runs == int((padded[1:] & ~padded[:-1]).sum()), (runs, path)
            files += 1
            notes_total += runs
    print("ok %d MIDI files, %d notes, %d frames each" % (files, notes_total, P + L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
