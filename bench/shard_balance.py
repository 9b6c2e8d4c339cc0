#!/usr/bin/env python3
"""The most a second core can give when each shard is one sequence.

A training step's shards are whole sequences, and a sequence's steps run one
after the other, so on W threads a step takes at least as long as its longest
shard, and at least its total work over W. For random batches of a split,
this prints the mean total work over the mean makespan of the schedule the
trainer uses (longest first onto the least-loaded thread, as the shared
queue gives) and of the round-robin it replaced (shard j on thread j mod W):
the speedup over one thread that no implementation of shards can beat.

    bench/shard_balance.py [--batch 4] [--threads 2] [--draws 20000] PICKLE...

Work is counted in timesteps (one sequence per shard: rows x length with
the same rows everywhere). Reads the pianoroll pickles' train split.
"""
import argparse
import pickle
import random


def lpt(lengths, threads):
    load = [0] * threads
    for n in sorted(lengths, reverse=True):
        i = load.index(min(load))
        load[i] += n
    return max(load)


def round_robin(lengths, threads):
    return max(sum(lengths[w::threads]) for w in range(threads))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draws", type=int, default=20000)
    ap.add_argument("pickles", nargs="+")
    a = ap.parse_args()
    print("| data | batch | threads | longest first (queue) | round robin |")
    print("|---|---:|---:|---:|---:|")
    for path in a.pickles:
        with open(path, "rb") as f:
            lengths = [len(s) for s in pickle.load(f, encoding="latin1")["train"]]
        rng = random.Random(0)
        total = queue = rr = 0
        for _ in range(a.draws):
            b = rng.sample(lengths, a.batch)
            total += sum(b)
            queue += lpt(b, a.threads)
            rr += round_robin(b, a.threads)
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        print("| %s | %d | %d | %.2fx | %.2fx |" % (name, a.batch, a.threads, total / queue, total / rr))


if __name__ == "__main__":
    main()
