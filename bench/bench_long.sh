#!/usr/bin/env bash
# Issue 20: speed, peak RSS, arena peak and faults per step on the four
# pianoroll datasets (VRNN latent 64, FIVO, batch 4, 4 particles, 1 thread),
# with the default memory budget and with the whole tape (--budget-mb 0),
# then peak RSS against the sequence length on synthetic batches.
#   bench/bench_long.sh BUILD_DIR DATA_DIR [STEPS]
# PART=data or PART=synthetic runs only that table.
set -euo pipefail
bin="$1/bin/fivo_bench_train"
data="$2"
steps="${3:-30}"
row() { python3 -c 'import json,sys
d=json.loads(sys.stdin.readline())
print("| %s | %s | %.0f | %.0f | %.1f | %.1f | %.1f |" % (sys.argv[1], sys.argv[2], d["timesteps_per_sec"],
      d["timesteps_per_cpu_sec"], d["peak_rss_mb"], d["arena_peak_mb"], d["faults_per_step"]))' "$@"; }
part="${PART:-all}"
if [ "$part" != synthetic ]; then
echo "| data | budget MB | timesteps/s | timesteps/cpu-s | peak RSS MB | arena peak MB | faults/step |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for ds in jsb_chorales nottingham musedata piano-midi.de; do
  for b in 64 0; do
    nice "$bin" --data "$data/$ds.pickle" --latent 64 --batch 4 --particles 4 --steps "$steps" \
      --warmup 10 --budget-mb "$b" | row "$ds" "$b"
  done
done
fi
[ "$part" = data ] && exit 0
echo
# Peak RSS against the longest sequence: one training step of a synthetic
# batch (budget 64 MB); the growth from T = 1,000 to 4,000 per row (sequence
# x particle) and step is what the run keeps per step: the state, not a tape.
echo "| latent | batch | T = 100 | T = 1,000 | T = 4,000 | growth, bytes per row and step |"
echo "|---:|---:|---:|---:|---:|---:|"
for lat in 64 256; do
  for bs in 4 32; do
    rss=()
    for T in 100 1000 4000; do
      rss+=("$(nice "$bin" --data "$data/jsb_chorales.pickle" --synthetic "$T" --latent "$lat" --batch "$bs" \
        --particles 4 --steps 1 --warmup 0 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["peak_rss_mb"])')")
    done
    python3 -c 'import sys
a, b, c = map(float, sys.argv[3:6]); bs = int(sys.argv[2])
print("| %s | %s | %.0f MB | %.0f MB | %.0f MB | %.0f |" % (sys.argv[1], bs, a, b, c, (c - b) * 1048576 / (3000 * bs * 4)))' \
      "$lat" "$bs" "${rss[@]}"
  done
done
