#!/usr/bin/env python3
"""Writes small pianoroll pickles in the original layout (a dict of
train/valid/test lists of sequences, each a list of tuples of MIDI notes
21..108; protocol 2) with the given sequence counts, for the tests of
scripts/download_pianorolls.sh and the examples/*.ini recipes.

  make_pianorolls.py OUT.pickle TRAIN/VALID/TEST [STEPS]
"""
import pickle
import sys


def sequence(i, steps):
    # Notes move with i so that splits are not all the same sequence.
    return [tuple(sorted({21 + (i + 7 * t) % 88, 21 + (i * 5 + 3 * t + 12) % 88}))
            for t in range(steps)]


def main():
    out, counts = sys.argv[1], [int(c) for c in sys.argv[2].split('/')]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    data, k = {}, 0
    for split, n in zip(('train', 'valid', 'test'), counts):
        data[split] = [sequence(k + i, steps) for i in range(n)]
        k += n
    with open(out, 'wb') as f:
        pickle.dump(data, f, protocol=2)


if __name__ == '__main__':
    main()
