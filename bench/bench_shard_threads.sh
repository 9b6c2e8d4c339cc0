#!/usr/bin/env bash
# Shards on threads, through the fivo host: a VRNN with FIVO on JSB, for
# each latent size and batch, trained (1) on one thread with one shard, (2)
# on one thread with S shards and (3) on every core with S shards (each
# thread its own model replica, shards taken longest first). Prints
# training timesteps/s of each (the last report, after warm-up), the ratio
# (3)/(1) and (3)/(2), and whether (2) and (3) wrote byte-identical
# checkpoints (they must: the bits depend on S, never on the thread count).
#   bench/bench_shard_threads.sh [BUILD_DIR] [STEPS]
# Environment: JSB (default ../shared/data/jsb_chorales.pickle), LATENTS
# ("32 64 256"), BATCHES ("4 32"), SHARDS (2), THREADS (0 = all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}" steps="${2:-400}"
jsb="${JSB:-../shared/data/jsb_chorales.pickle}"
fivo="$build/bin/fivo"
shards="${SHARDS:-2}" threads="${THREADS:-0}"
work="$(mktemp -d /tmp/fivo_bench_shards_XXXXXX)"
trap 'rm -rf "$work"' EXIT
rate() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if '\"train\"' in l]; print(r[-1]['timesteps_per_sec'])" "$1/metrics.jsonl"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $shards shards, threads $threads"
printf '%-6s %-5s %14s %14s %14s %9s %9s %s\n' latent batch "1thr_1shard" "1thr_${shards}shards" \
    "all_${shards}shards" "vs_1x1" "vs_1xS" "same_bits"
for latent in ${LATENTS:-32 64 256}; do
    for batch in ${BATCHES:-4 32}; do
        n=$steps
        [ "$latent" -ge 256 ] && n=$((steps / 8))
        [ "$batch" -ge 32 ] && n=$((n / 4))
        [ "$n" -ge 20 ] || n=20
        args=(--dataset_path="$jsb" --batch_size="$batch" --latent_size="$latent" --num_samples=4
              --max_steps="$n" --summarize_every=$((n / 2)) --checkpoint_every_secs=100000)
        d="$work/$latent-$batch"
        "$fivo" "${args[@]}" --threads=1 --logdir="$d/a" >/dev/null 2>&1
        "$fivo" "${args[@]}" --threads=1 --shards="$shards" --logdir="$d/b" >/dev/null 2>&1
        "$fivo" "${args[@]}" --threads="$threads" --shards="$shards" --logdir="$d/c" >/dev/null 2>&1
        a=$(rate "$d/a") b=$(rate "$d/b") c=$(rate "$d/c")
        ck="ckpt-$(printf %012d "$n").fivo"
        same=no
        cmp -s "$d/b/$ck" "$d/c/$ck" && same=yes
        python3 -c "import sys; a,b,c=map(float,sys.argv[3:6]); print('%-6s %-5s %14.0f %14.0f %14.0f %8.2fx %8.2fx %s' % (sys.argv[1], sys.argv[2], a, b, c, c/a, c/b, sys.argv[6]))" \
            "$latent" "$batch" "$a" "$b" "$c" "$same"
    done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
