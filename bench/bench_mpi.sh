#!/usr/bin/env bash
# Data-parallel throughput on this machine: one process with one thread vs
# `mpirun -np 2` (one thread each, 2 shards) at the same global batch, a
# VRNN with FIVO on JSB at latent 64, batch 8 (the issue's target: >= 1.7x).
# Prints steps/s of each (the second half of the run, after warm-up), the
# ratio, and the bytes and time per step in collectives that rank 0 reports;
# then the communication alone (fivo_bench_comm) at the same parameter count.
#   bench/bench_mpi.sh [BUILD_DIR] [STEPS]     JSB=path (default ../shared/data/jsb_chorales.pickle)
# The machine may be shared: run it a few times, numbers are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}" steps="${2:-200}"
jsb="${JSB:-../shared/data/jsb_chorales.pickle}"
fivo="$build/bin/fivo"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work="$(mktemp -d /tmp/fivo_bench_mpi_XXXXXX)"
trap 'rm -rf "$work"' EXIT
half=$((steps / 2))
args=(--dataset_path="$jsb" --batch_size=8 --latent_size=64 --num_samples=4 --max_steps="$steps" --threads=1
      --summarize_every="$half" --checkpoint_every_secs=100000)
rate() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[-1]['steps_per_sec'])" "$1/metrics.jsonl"; }

# CPU seconds (user + sys) of everything a command ran, children included.
cpu() { local out="$1"; shift; /usr/bin/time -f "%U %S" -o "$out" "$@"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
cpu "$work/one.cpu" "$fivo" "${args[@]}" --logdir="$work/one" >/dev/null 2>&1
cpu "$work/one2.cpu" "$fivo" "${args[@]}" --shards=2 --logdir="$work/one2" >/dev/null 2>&1
cpu "$work/mpi.cpu" mpirun --oversubscribe --bind-to none -np 2 -x OPENBLAS_NUM_THREADS "$fivo" "${args[@]}" \
  --shards=2 --logdir="$work/mpi" >/dev/null 2>"$work/mpi.err"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
for r in one one2 mpi; do
  awk -v r="$r" -v n="$steps" '{printf "CPU per step, %-5s %.1f ms (user+sys, all processes)\n", r, 1000*($1+$2)/n}' "$work/$r.cpu"
done
one=$(rate "$work/one") one2=$(rate "$work/one2") mpi=$(rate "$work/mpi")
echo "1 process, 1 shard:   $one steps/s"
echo "1 process, 2 shards:  $one2 steps/s"
echo "2 ranks, 2 shards:    $mpi steps/s"
python3 -c "import sys; print('ratio 2 ranks / 1 process: %.2fx' % (float(sys.argv[2]) / float(sys.argv[1])))" "$one" "$mpi"
grep "mpi:" "$work/mpi.err" || true
cmp "$work/one2/ckpt-$(printf %012d "$steps").fivo" "$work/mpi/ckpt-$(printf %012d "$steps").fivo" &&
  echo "checkpoints of 1 process and 2 ranks (2 shards) byte-identical"
values=$(( ($(stat -c %s "$work/one/ckpt-$(printf %012d "$steps").fivo") ) / 12 ))
echo "communication alone (~$values parameters):"
mpirun --oversubscribe --bind-to none -np 2 "$build/bin/fivo_bench_comm" --values "$values" --seqs 8
