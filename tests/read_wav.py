#!/usr/bin/python3
"""Reads the WAV samples of a speech sample run with Python's own wave
module and checks them against samples.npz and the statistics.

    read_wav.py OUT_DIR MEAN STD RATE

Every samples/prefix<b>_sample<n>.wav is mono 16-bit at RATE Hz, holds
(P + L) * D samples, and equals clip(round(x * STD + MEAN)) of prefixes[:, b]
followed by samples[:, b, n]. Exit 0 with "ok ..."; 77 without numpy."""
import os
import sys
import wave


def main():
    out, mean, std, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    try:
        import numpy as np
    except ImportError as e:
        print("skip: %s" % e)
        return 77
    d = np.load(os.path.join(out, "samples.npz"))
    pre, smp = d["prefixes"], d["samples"]
    P, B, D = pre.shape
    L, _, N, _ = smp.shape
    files = 0
    for b in range(B):
        for n in range(N):
            x = np.concatenate([pre[:, b, :], smp[:, b, n, :]]).reshape(-1).astype(np.float64)
            want = np.clip(np.rint(x * std + mean), -32768, 32767).astype(np.int16)
            path = os.path.join(out, "samples", "prefix%d_sample%d.wav" % (b, n))
            with wave.open(path, "rb") as w:
                assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
                assert w.getframerate() == rate, (w.getframerate(), rate)
                assert w.getnframes() == (P + L) * D, (w.getnframes(), (P + L) * D)
                got = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            bad = np.flatnonzero(got != want)
            assert bad.size == 0, "%s: samples %s differ" % (path, bad[:5].tolist())
            assert np.std(got) > 0, "silent file " + path
            files += 1
    print("ok %d WAV files, %d samples each at %d Hz" % (files, (P + L) * D, rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
