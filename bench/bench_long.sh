#!/usr/bin/env bash
# Issue 20: speed, peak RSS, arena peak and faults per step on the four
# pianoroll datasets (VRNN latent 64, FIVO, batch 4, 4 particles, 1 thread),
# with the default memory budget and with the whole tape (--budget-mb 0),
# then peak RSS against the sequence length on synthetic batches.
#   bench/bench_long.sh BUILD_DIR DATA_DIR [STEPS]
set -euo pipefail
bin="$1/bin/fivo_bench_train"
data="$2"
steps="${3:-30}"
row() { python3 -c 'import json,sys
d=json.loads(sys.stdin.readline())
print("| %s | %s | %.0f | %.0f | %.1f | %.1f | %.1f |" % (sys.argv[1], sys.argv[2], d["timesteps_per_sec"],
      d["timesteps_per_cpu_sec"], d["peak_rss_mb"], d["arena_peak_mb"], d["faults_per_step"]))' "$@"; }
echo "| data | budget MB | timesteps/s | timesteps/cpu-s | peak RSS MB | arena peak MB | faults/step |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for ds in jsb_chorales nottingham musedata piano-midi.de; do
  for b in 64 0; do
    nice "$bin" --data "$data/$ds.pickle" --latent 64 --batch 4 --particles 4 --steps "$steps" \
      --warmup 10 --budget-mb "$b" | row "$ds" "$b"
  done
done
echo
echo "| synthetic T | latent | batch | budget MB | peak RSS MB | arena peak MB |"
echo "|---:|---:|---:|---:|---:|---:|"
for lat in 64 256; do
  for bs in 4 32; do
    for T in 100 1000 4000; do
      nice "$bin" --data "$data/jsb_chorales.pickle" --synthetic "$T" --latent "$lat" --batch "$bs" \
        --particles 4 --steps 1 --warmup 1 | python3 -c 'import json,sys
d=json.loads(sys.stdin.readline())
print("| %s | %s | %s | 64 | %.1f | %.1f |" % (sys.argv[1], sys.argv[2], sys.argv[3], d["peak_rss_mb"], d["arena_peak_mb"]))' "$T" "$lat" "$bs"
    done
  done
done
