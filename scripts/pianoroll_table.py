#!/usr/bin/env python3
"""Prints the pianoroll table from scripts/pianoroll_table.sh's run folders.

    python3 scripts/pianoroll_table.py OUT_DIR [DATASET ...]
    python3 scripts/pianoroll_table.py --twists OUT_DIR [DATASET ...]

One row per dataset, model and training bound: the test bounds of best.fivo
(ELBO, IWAE, FIVO at 4 particles, FIVO at 16), the steps trained, the best
valid step, wall and CPU time summed over every invocation, and the
published numbers for the same dataset and bound beside them. A run still
training shows its last step and "running".

--twists prints, per run, what the twisted bounds change (docs/bounds.md):
test FIVO at 4 and 16 particles, the trained bound itself at 4 and 16 (a
twisted log p-hat is a bound too), test FIVO (4)'s resampling rate and
log-weight variance, the training resampling rate (mean of the last five
reports), and the twist's own metrics (bellman_loss and log_r_diff for
fivo-aux-td, classifier_loss and classifier_accuracy for sixo) at the first
report, the best valid step and the last report.
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


TWIST_METRICS = ("bellman_loss", "log_r_diff", "classifier_loss", "classifier_accuracy")


def run_folders(out, datasets):
    """(dataset, model, bound, folder) of every run, ELBO, IWAE, FIVO first."""
    order = {"elbo": 0, "iwae": 1, "fivo": 2}
    for ds in datasets:
        root = os.path.join(out, ds)
        if not os.path.isdir(root):
            continue
        runs = sorted(os.listdir(root), key=lambda r: (r.split("_", 1)[0],
                                                       order.get(r.split("_", 1)[-1], 9), r))
        for run in runs:
            d = os.path.join(root, run)
            if "_" in run and os.path.isdir(d):
                model, bound = run.split("_", 1)
                yield ds, model, bound, d


def run_record(d):
    """What one run folder holds: its test rows by particle count, train
    rows, best valid step (None before the first evaluation), steps shown
    (with "(running)" until train.done), and wall and CPU minutes of
    training plus evaluation."""
    rows = rows_of(os.path.join(d, "metrics.jsonl"))
    test = {r["num_samples"]: r for r in rows
            if r.get("mode") == "eval" and r.get("split") == "test"}
    train = [r for r in rows if r.get("mode") == "train"]
    valid = [r for r in rows if r.get("mode") == "eval" and r.get("split") == "valid"]
    best = max(valid, key=lambda r: r["bound_mean"])["step"] if valid else None
    wall, cpu = times(os.path.join(d, "time.txt"))
    ew, ec = times(os.path.join(d, "eval_time.txt"))
    steps = str(train[-1]["step"]) if train else "0"
    if not os.path.isfile(os.path.join(d, "train.done")):
        steps += " (running)"
    return test, train, best, steps, (wall + ew) / 60, (cpu + ec) / 60


def twists(out, datasets):
    print("| dataset | trained with | test FIVO (4) | test FIVO (16) | test own bound (4) "
          "| test own bound (16) | test FIVO (4) resampling | test FIVO (4) log-weight variance "
          "| train resampling (last 5 reports) | twist metrics: first / best step / last "
          "| steps | best step | CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ds, model, bound, d in run_folders(out, datasets):
        test, train, best, steps, _, cpu = run_record(d)

        def num(k, key, fmt="%.3f"):
            r = test.get(k)
            return fmt % r[key] if r and key in r else "-"

        own = bound if bound not in ("elbo", "iwae", "fivo") else "fivo"
        rate = "-"
        if train:
            last = [r["resample_rate"] for r in train[-5:] if "resample_rate" in r]
            rate = "%.0f %%" % (100 * sum(last) / len(last)) if last else "-"
        at_best = [r for r in train if best is not None and r["step"] <= best]
        picks = [train[0] if train else None, at_best[-1] if at_best else None,
                 train[-1] if train else None]
        tw = []
        for key in TWIST_METRICS:
            if train and key in train[-1]:
                vals = ["%.3f" % p[key] if p and key in p else "-" for p in picks]
                tw.append("%s %s" % (key, " / ".join(vals)))
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f min |" % (
            NAMES.get(ds, ds), bound, num(4, "fivo_ll_per_t"), num(16, "fivo_ll_per_t"),
            num(4, own + "_ll_per_t"), num(16, own + "_ll_per_t"),
            num(4, "fivo_resample_rate", "%.2f"), num(4, "fivo_log_weight_var", "%.2f"), rate,
            "; ".join(tw) or "-", steps, best if best is not None else "-", cpu))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--twists":
        twists(sys.argv[2], sys.argv[3:] or list(NAMES))
        return
    out = sys.argv[1]
    datasets = sys.argv[2:] or list(NAMES)
    print("| dataset | model | trained with | test ELBO (4) | test IWAE (4) | test FIVO (4) "
          "| test FIVO (16) | published (trained bound) | steps | best step | wall | CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ds, model, bound, d in run_folders(out, datasets):
        test, _, best, steps, wall, cpu = run_record(d)

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
            cell(16, "fivo"), "; ".join(pub) or "-", steps, best if best is not None else "-",
            wall, cpu))
    print()
    print("Each run: the command in its folder's command.txt (fivo --config examples/<dataset>.ini "
          "--model=M --bound=B ...), then fivo --config <logdir>/config.ini --mode=eval --split=test "
          "--checkpoint=<logdir>/best.fivo --num_samples=4|16 --eval_bounds=elbo,iwae,fivo (and the trained "
          "bound when it is another). "
          "Wall and CPU include the evaluations.")


if __name__ == "__main__":
    main()
