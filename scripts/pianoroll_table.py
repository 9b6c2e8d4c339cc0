#!/usr/bin/env python3
"""Prints the pianoroll table from scripts/pianoroll_table.sh's run folders.

    python3 scripts/pianoroll_table.py OUT_DIR [DATASET ...]

One row per dataset, model and training bound: the test bounds of best.fivo
(ELBO, IWAE, FIVO at 4 particles, FIVO at 16), the steps trained, the best
valid step, wall and CPU time summed over every invocation, and the
published numbers for the same dataset and bound beside them. A run still
training shows its last step and "running".
"""
import json
import os
import sys

NAMES = {"nottingham": "Nottingham", "jsb": "JSB", "musedata": "MuseData",
         "piano-midi": "Piano-midi.de"}
# Published test bounds, nats per timestep, keyed by (dataset, bound).
# PRC: "Partial Rejection Control for robust variational inference in
# sequential latent variable models" (ICLR 2021 submission), Table 1:
# re-runs of the FIVO paper's VRNN setting at 5 particles, each model
# evaluated with the bound it was trained with.
PRC = {
    ("nottingham", "elbo"): -3.87, ("nottingham", "iwae"): -3.12, ("nottingham", "fivo"): -3.07,
    ("jsb", "elbo"): -8.69, ("jsb", "iwae"): -8.01, ("jsb", "fivo"): -7.51,
    ("piano-midi", "elbo"): -7.99, ("piano-midi", "iwae"): -7.97, ("piano-midi", "fivo"): -7.85,
    ("musedata", "elbo"): -7.48, ("musedata", "iwae"): -7.45, ("musedata", "fivo"): -6.75,
}
# VHRNN: "Variational Hyper RNN" (Deng et al. 2019), Table 2, quoting the
# FIVO paper's JSB setting (VRNN latent 32, trained and evaluated with FIVO).
VHRNN = {("jsb", "fivo"): -6.91}


def times(path):
    """Sums "wall user sys" lines written by /usr/bin/time -a."""
    wall = cpu = 0.0
    if os.path.isfile(path):
        for line in open(path):
            parts = line.split()
            if len(parts) >= 3:
                try:
                    w, u, s = (float(x) for x in parts[-3:])
                except ValueError:
                    continue  # a "Command exited with non-zero status" line
                wall += w
                cpu += u + s
    return wall, cpu


def rows_of(path):
    rows = []
    if os.path.isfile(path):
        for line in open(path):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return rows


def main():
    out = sys.argv[1]
    datasets = sys.argv[2:] or list(NAMES)
    print("| dataset | model | trained with | test ELBO (4) | test IWAE (4) | test FIVO (4) "
          "| test FIVO (16) | published (trained bound) | steps | best step | wall | CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ds in datasets:
        root = os.path.join(out, ds)
        if not os.path.isdir(root):
            continue
        order = {"elbo": 0, "iwae": 1, "fivo": 2}
        runs = sorted(os.listdir(root), key=lambda r: (r.split("_", 1)[0],
                                                       order.get(r.split("_", 1)[-1], 9), r))
        for run in runs:
            d = os.path.join(root, run)
            if "_" not in run or not os.path.isdir(d):
                continue
            model, bound = run.split("_", 1)
            rows = rows_of(os.path.join(d, "metrics.jsonl"))
            test = {r["num_samples"]: r for r in rows
                    if r.get("mode") == "eval" and r.get("split") == "test"}
            train = [r for r in rows if r.get("mode") == "train"]
            valid = [r for r in rows if r.get("mode") == "eval" and r.get("split") == "valid"]
            best = max(valid, key=lambda r: r["bound_mean"])["step"] if valid else "-"
            wall, cpu = times(os.path.join(d, "time.txt"))
            ew, ec = times(os.path.join(d, "eval_time.txt"))
            steps = str(train[-1]["step"]) if train else "0"
            if not os.path.isfile(os.path.join(d, "train.done")):
                steps += " (running)"

            def cell(k, name):
                r = test.get(k)
                key = name + "_ll_per_t"
                return "%.3f" % r[key] if r and key in r else "-"

            pub = []
            if (ds, bound) in PRC:
                pub.append("%.2f (PRC, 5 particles)" % PRC[(ds, bound)])
            if (ds, bound) in VHRNN:
                pub.append("%.2f (VHRNN)" % VHRNN[(ds, bound)])
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f min | %.0f min |" % (
                NAMES.get(ds, ds), model, bound, cell(4, "elbo"), cell(4, "iwae"), cell(4, "fivo"),
                cell(16, "fivo"), "; ".join(pub) or "-", steps, best,
                (wall + ew) / 60, (cpu + ec) / 60))
    print()
    print("Each run: the command in its folder's command.txt (fivo --config examples/<dataset>.ini "
          "--model=M --bound=B ...), then fivo --config <logdir>/config.ini --mode=eval --split=test "
          "--checkpoint=<logdir>/best.fivo --num_samples=4|16 --eval_bounds=elbo,iwae,fivo. "
          "Wall and CPU include the evaluations.")


if __name__ == "__main__":
    main()
