#!/usr/bin/env bash
# Prints every number a fixed set of runs produces, in a form that can be
# compared byte for byte across builds: sha256 of the checkpoints and
# samples.npz, and each metrics.jsonl line without its clock fields (time, file,
# *_per_sec). The runs: 30 JSB training steps of the VRNN (filtering) and
# the SRNN (smoothing), each evaluated (ELBO/IWAE/FIVO on valid) and sampled,
# and the GHMM main job of scripts/main.sh (synthetic data: no file).
#   results.sh FIVO_EXECUTABLE SHARED_DATA_DIR [all|jsb|ghmm]
# PART (default all) picks the runs. The JSB runs check facts of the real
# file: without it they exit 77 (ctest: skipped), naming it.
set -euo pipefail
fivo="$1"
jsb="$2/jsb_chorales.pickle"
part="${3:-all}"
case "$part" in all | jsb | ghmm) ;; *) echo "results.sh: unknown part '$part'" >&2; exit 2 ;; esac
if [ "$part" != ghmm ] && [ ! -f "$jsb" ]; then
  echo "SKIP: needs the real data file $jsb (the JSB runs check facts of that file; put it in" \
    "../shared/data or configure with -DFIVO_SHARED_DATA_DIR=DIR)"
  exit 77
fi
work="$(mktemp -d /tmp/fivo_golden_XXXXXX)"
trap 'rm -rf "$work"' EXIT

metrics() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    for k in list(r):
        if k in ("time", "file") or k.endswith("_per_sec"):
            del r[k]
    print(json.dumps(r, sort_keys=True))
PY
}

jsb_run() { # name model proposal
  local dir="$work/$1"
  local common=(--model="$2" --proposal_type="$3" --dataset_path="$jsb" --logdir="$dir"
                --latent_size=32 --batch_size=4 --num_samples=4 --random_seed=7)
  "$fivo" --mode=train "${common[@]}" --max_steps=30 --summarize_every=10 >"$work/log" 2>&1 ||
    { cat "$work/log" >&2; exit 1; }
  "$fivo" --mode=eval "${common[@]}" --split=valid >"$work/eval.out" 2>"$work/log" ||
    { cat "$work/log" >&2; exit 1; }
  "$fivo" --mode=sample "${common[@]}" --split=test --prefix_length=5 --sample_length=10 \
    >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  echo "== $1"
  (cd "$dir" && sha256sum ckpt-*.fivo samples.npz)
  cat "$work/eval.out"
  metrics "$dir/metrics.jsonl"
}

if [ "$part" != ghmm ]; then
  jsb_run vrnn vrnn filtering
  jsb_run srnn srnn smoothing
fi
[ "$part" != jsb ] || exit 0

echo "== ghmm main job"
"$fivo" --model=ghmm --bound=fivo --max_steps=50000 --summarize_every=5000 \
  --eval_every=50000 --logdir="$work/ghmm" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
metrics "$work/ghmm/metrics.jsonl"
