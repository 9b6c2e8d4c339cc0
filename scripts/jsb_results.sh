#!/usr/bin/env bash
# The JSB results table (docs/results.md, "JSB results"): trains the VRNN and the SRNN
# (latent 32, 4 particles, examples/jsb.ini) with ELBO, IWAE, FIVO and
# fivo-aux, keeps each run's best valid checkpoint (best.fivo, with early
# stopping), then evaluates it on the test split with ELBO, IWAE and FIVO at 4
# and 16 particles. Prints a Markdown table with each run's steps, best step,
# wall and CPU time, and the command that trained it.
#
#   scripts/jsb_results.sh [BUILD_DIR] [OUT_DIR]
# The recipe (learning rate, steps, evaluation, patience) is examples/jsb.ini's.
# Environment: JSB (default ../shared/data/jsb_chorales.pickle), JOBS (runs
# at once, default 2, one thread each), MODELS ("vrnn srnn"), BOUNDS ("elbo
# iwae fivo fivo-aux"), EXTRA (more flags for every training run, e.g.
# --max_steps=2000 for a smoke run). A run whose folder holds a checkpoint
# resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
out="${2:-/tmp/fivo/jsb_results}"
jsb="${JSB:-../shared/data/jsb_chorales.pickle}"
jobs="${JOBS:-2}" extra="${EXTRA:-}"
fivo="$build/bin/fivo"
[ -x "$fivo" ] || { echo "jsb_results: build $fivo first" >&2; exit 1; }
[ -f "$jsb" ] || { echo "jsb_results: no JSB pickle at $jsb (set JSB=path)" >&2; exit 1; }
mkdir -p "$out"

train_args() { # model bound
    echo --config examples/jsb.ini --dataset_path="$jsb" --model="$1" --bound="$2" --threads=1 \
        --logdir="$out/$1_$2" $extra
}

run_one() { # model bound: train, then the six test evaluations of best.fivo
    local m="$1" b="$2" dir="$out/$1_$2"
    mkdir -p "$dir"
    # shellcheck disable=SC2046
    /usr/bin/time -f "%e %U %S" -o "$dir/time.txt" "$fivo" $(train_args "$m" "$b") \
        >"$dir/train.log" 2>&1 || { echo "jsb_results: $m/$b training failed, see $dir/train.log" >&2; return 1; }
    for k in 4 16; do
        "$fivo" --config examples/jsb.ini --dataset_path="$jsb" --model="$m" --bound="$b" \
            --logdir="$dir" --mode=eval --split=test --checkpoint="$dir/best.fivo" \
            --num_samples="$k" --eval_bounds=elbo,iwae,fivo --threads=1 >"$dir/eval$k.log" 2>&1 ||
            { echo "jsb_results: $m/$b eval at $k particles failed, see $dir/eval$k.log" >&2; return 1; }
    done
}

pids=()
for m in ${MODELS:-vrnn srnn}; do
    for b in ${BOUNDS:-elbo iwae fivo fivo-aux}; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
        run_one "$m" "$b" &
        pids+=($!)
    done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done

python3 - "$out" "$extra" <<'EOF'
import json, os, sys
out, extra = sys.argv[1:]
print("| model | trained with | test ELBO (4) | test IWAE (4) | test FIVO (4) | test ELBO (16) | test IWAE (16) | test FIVO (16) | steps | best step | wall | CPU |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for run in sorted(os.listdir(out), key=lambda r: (r.split("_")[0] != "vrnn", ["elbo", "iwae", "fivo", "fivo-aux"].index(r.split("_", 1)[1]) if r.split("_", 1)[1] in ["elbo", "iwae", "fivo", "fivo-aux"] else 9)):
    d = os.path.join(out, run)
    if not os.path.isfile(os.path.join(d, "metrics.jsonl")):
        continue
    rows = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]
    ev = {r["num_samples"]: r for r in rows if r.get("mode") == "eval" and r.get("split") == "test"}
    train = [r for r in rows if r.get("mode") == "train"]
    best = None
    valid = [r for r in rows if r.get("mode") == "eval" and r.get("split") == "valid"]
    if valid:
        best = max(valid, key=lambda r: r["bound_mean"])["step"]
    wall, user, sys_ = (float(x) for x in open(os.path.join(d, "time.txt")).read().split()[-3:])
    m, b = run.split("_", 1)
    cell = lambda k, n: "%.3f" % ev[k][n + "_ll_per_t"] if k in ev else "-"
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f min | %.0f min |" % (
        m, b, cell(4, "elbo"), cell(4, "iwae"), cell(4, "fivo"), cell(16, "elbo"), cell(16, "iwae"),
        cell(16, "fivo"), train[-1]["step"] if train else "-", best if best is not None else "-",
        wall / 60, (user + sys_) / 60))
print()
print("Each run: fivo --config examples/jsb.ini --model=M --bound=B --threads=1 %s; then "
      "fivo ... --mode=eval --split=test --checkpoint=<logdir>/best.fivo --num_samples=4|16 "
      "--eval_bounds=elbo,iwae,fivo" % extra)
EOF
exit $fail
