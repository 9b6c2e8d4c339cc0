#!/usr/bin/env python3
"""Compares results.sh output with a golden file made by an earlier commit.

Every line must be equal, except metrics lines (JSON objects): there every
key of the golden line must be present with the same value, and keys the
newer build adds are listed but allowed. Prints the first difference and
exits 1 on a mismatch."""
import json
import re
import sys


REPORT = re.compile(r"^(\w+) step (\d+): (.*)$")


def parse(line):
    """A metrics line as a dict; a printed report line ("eval step 30: k v,
    k v, ...") as a dict of its fields too, so keys a newer build adds are
    allowed in both."""
    if line.startswith("{"):
        return json.loads(line)
    m = REPORT.match(line)
    if m:
        fields = {"": f"{m.group(1)} step {m.group(2)}"}
        for part in m.group(3).split(", "):
            k, _, v = part.partition(" ")
            fields[k] = v
        return fields
    return line


def main(golden_path, new_path):
    golden = [l.rstrip("\n") for l in open(golden_path)]
    new = [l.rstrip("\n") for l in open(new_path)]
    if len(golden) != len(new):
        print(f"line count differs: golden {len(golden)}, new {len(new)}")
        return 1
    added = set()
    for i, (g, n) in enumerate(zip(golden, new), 1):
        pg, pn = parse(g), parse(n)
        if isinstance(pg, dict) and isinstance(pn, dict):
            for k, v in pg.items():
                if k not in pn or pn[k] != v:
                    print(f"line {i}: key {k}: golden {v!r}, new {pn.get(k, '(absent)')!r}")
                    return 1
            added.update(k for k in pn if k not in pg)
        elif g != n:
            print(f"line {i} differs:\n  golden: {g}\n  new:    {n}")
            return 1
    print(f"{len(golden)} lines equal to {golden_path}"
          + (f"; keys added by this build: {', '.join(sorted(added))}" if added else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
