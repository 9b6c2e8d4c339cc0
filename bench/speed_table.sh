#!/usr/bin/env bash
# The README's speed table (issue 20 §7): the four pianoroll datasets x
# latent 32 / 64 / 256, VRNN (filtering proposal) + FIVO, batch 4, 4
# particles, multinomial resampling, Adam. Per row:
#   fivo 1 thr  fivo_bench_train --threads 1 --shards 4 (the default
#               command's shards, one sequence each, computed one after the
#               other): training timesteps/s (sum of sequence lengths per
#               second of the timed steps);
#   fivo all    the fivo host's default command on every core (its default
#               shards), timesteps/s of its last train report (second half);
#   host 1 thr  the same command with --threads=1 (same bits); each host
#               figure is the mean of HOST_REPEAT (2) runs, alternated with
#               the other column's, over a window of about HOST_SECONDS (4)
#               at fivo 1 thr's rate (80 steps gave JSB a 0.2 s window);
#   cores       fivo all / host 1 thr (issue 20 §4: >= 1.7x on 2 cores);
#   peer        ../shared/peers/torch_vrnn_fivo.py on one thread;
#   ratio       fivo 1 thr / peer, both one thread;
#   GFLOP/s     fivo 1 thr: 2 m n k of every sgemm the step ran, counted in
#               the gemm wrapper (core/numerics/gemm.c, forward, backward,
#               deferred weight gradients and the segments' recomputed
#               forward) per second; elementwise work is not counted;
#   % FMA       that against this core's FMA peak: the best single-thread
#               2048^3 OpenBLAS sgemm with OPENBLAS_CORETYPE unset (native
#               kernels), measured in the same run (the Haswell-kernel figure
#               is printed beside it, not used); PER_CPU=1 divides both
#               by CPU seconds instead of wall seconds (a loaded machine);
#   MB          peak RSS of fivo 1 thr and of the peer;
#   flt/step    fivo 1 thr's minor page faults per timed step.
#
#   bench/speed_table.sh [--quick] [BUILD_DIR]
# --quick: JSB and MuseData at latent 32, a few steps (a smoke test of the
# script, not a measurement). The full table takes about an hour; run it on
# an idle machine. Environment: DATA_DIR (default ../shared/data), PEER,
# PYTHON (/usr/bin/python3), DATASETS, LATENTS, STEPS (fivo's timed steps,
# 40), PEER_STEPS (10), HOST_STEPS (the least, 80), HOST_SECONDS (4),
# HOST_REPEAT (2), SHARDS (4), SKIP_PEER=1, SKIP_HOST=1, PER_CPU=1.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
if [ "${1:-}" = "--quick" ]; then
    quick=1
    shift
fi
build=${1:-$src/build}
data_dir=${DATA_DIR:-$src/../shared/data}
[ -d "$data_dir" ] || data_dir=/work/shared/data
peer=${PEER:-$src/../shared/peers/torch_vrnn_fivo.py}
[ -f "$peer" ] || peer=/work/shared/peers/torch_vrnn_fivo.py
python=${PYTHON:-/usr/bin/python3}
bench=$build/bin/fivo_bench_train gemm=$build/bin/fivo_bench_gemm host=$build/bin/fivo
for b in "$bench" "$gemm" "$host"; do
    [ -x "$b" ] || { echo "speed_table.sh: build $b first (cmake --build $build)" >&2; exit 1; }
done
if [ "$quick" = 1 ]; then
    datasets=${DATASETS:-jsb_chorales musedata} latents=${LATENTS:-32}
    steps=${STEPS:-3} warm=1 psteps=${PEER_STEPS:-2} pwarm=1 hsteps=${HOST_STEPS:-4}
    host_seconds=0 host_repeat=${HOST_REPEAT:-1}
else
    datasets=${DATASETS:-jsb_chorales nottingham musedata piano-midi.de} latents=${LATENTS:-32 64 256}
    steps=${STEPS:-40} warm=10 psteps=${PEER_STEPS:-10} pwarm=2 hsteps=${HOST_STEPS:-80}
    host_seconds=${HOST_SECONDS:-4} host_repeat=${HOST_REPEAT:-2}
fi
work=$(mktemp -d /tmp/fivo_speed_table_XXXXXX)
trap 'rm -rf "$work"' EXIT

field() { # field NAME JSON-LINE
    printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p" | tr -d '"'
}

per_cpu=${PER_CPU:-0} shards=${SHARDS:-4}
# A knob that is not a number stops here, named (not in a traceback later).
for knob in "STEPS=$steps" "PEER_STEPS=$psteps" "HOST_STEPS=$hsteps" "HOST_REPEAT=$host_repeat" \
    "SHARDS=$shards"; do
    [[ ${knob#*=} =~ ^[1-9][0-9]*$ ]] ||
        { echo "speed_table.sh: ${knob%%=*} = '${knob#*=}': expected a whole number >= 1" >&2; exit 2; }
done
[[ $host_seconds =~ ^[0-9]+([.][0-9]+)?$ ]] ||
    { echo "speed_table.sh: HOST_SECONDS = '$host_seconds': expected seconds (a number >= 0)" >&2; exit 2; }
col=1 gkey=gflops unit="wall second"
[ "$per_cpu" = 1 ] && col=2 gkey=gflops_per_cpu_sec unit="CPU second"
peak=$(env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$gemm" --square 2048 | cut -d' ' -f$col)
haswell=$(OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 "$gemm" --square 2048 | cut -d' ' -f$col)
echo "$(date -u '+%F %H:%M UTC'), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "FMA peak (best 2048^3 sgemm, 1 thread, per $unit): $peak GFLOP/s native kernels (OPENBLAS_CORETYPE unset)," \
    "$haswell GFLOP/s with OPENBLAS_CORETYPE=Haswell; fivo runs with OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "VRNN filtering proposal, FIVO, batch 4, 4 particles; fivo 1 thr --shards $shards, $steps timed steps after $warm," \
    "peer $psteps after $pwarm, host at least $hsteps steps (rate of the second half, about" \
    "${host_seconds} s at fivo 1 thr's rate), mean of $host_repeat runs alternated"
echo
echo "| data | latent | fivo 1 thr ts/s | fivo all cores ts/s | host 1 thr ts/s | cores | peer ts/s | ratio | GFLOP/s | % FMA peak | fivo MB | peer MB | faults/step |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# host_rate N [FLAG...]: timesteps/s of the fivo host's last train report
# (steps N/2 + 1 .. N) for dataset $f at latent $lat (the default command but
# for the run length).
host_rate() {
    local n=$1
    shift
    rm -rf "$work/host"
    "$host" --dataset_path="$f" --latent_size="$lat" --proposal_type=filtering --bound=fivo \
        --batch_size=4 --num_samples=4 --max_steps="$n" --summarize_every=$((n / 2)) \
        --checkpoint_every_secs=100000 --tensorboard=false --logdir="$work/host" "$@" \
        >"$work/host.log" 2>&1 || { cat "$work/host.log" >&2; exit 1; }
    "$python" -c "import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if '\"train\"' in l]
print('%.0f' % r[-1]['timesteps_per_sec'])" "$work/host/metrics.jsonl"
}

for ds in $datasets; do
    f=$data_dir/$ds.pickle
    [ -f "$f" ] || { echo "speed_table.sh: no $f" >&2; exit 1; }
    for lat in $latents; do
        fj=$("$bench" --data "$f" --latent "$lat" --bound fivo --batch 4 --particles 4 --threads 1 \
            --shards "$shards" --steps "$steps" --warmup "$warm")
        fts=$(field timesteps_per_sec "$fj")
        gf=$(field "$gkey" "$fj")
        pts=- prss=- hts=- h1ts=-
        if [ "${SKIP_PEER:-0}" != 1 ]; then
            pj=$(/usr/bin/time -f 'RSS %M' -o "$work/peer.rss" "$python" "$peer" --data "$f" --bound fivo \
                --latent "$lat" --batch 4 --particles 4 --steps "$psteps" --warmup "$pwarm" --threads 1)
            pts=$(field timesteps_per_sec "$pj")
            prss=$(awk '/^RSS/ {printf "%.0f", $2 / 1024}' "$work/peer.rss")
        fi
        if [ "${SKIP_HOST:-0}" != 1 ]; then
            # enough steps for a window of about host_seconds at one thread
            n=$("$python" -c "import math,sys
fts, sps, least, secs = map(float, sys.argv[1:])
half = math.ceil(secs * sps)
print(int(max(least, 2 * half)) // 2 * 2)" "$fts" "$(field steps_per_sec "$fj")" "$hsteps" "$host_seconds")
            all=() one=()
            for _ in $(seq "$host_repeat"); do
                all+=("$(host_rate "$n")") one+=("$(host_rate "$n" --threads=1)")
            done
            hts=$("$python" -c "import sys; v=[float(x) for x in sys.argv[1:]]; print('%.0f' % (sum(v)/len(v)))" "${all[@]}")
            h1ts=$("$python" -c "import sys; v=[float(x) for x in sys.argv[1:]]; print('%.0f' % (sum(v)/len(v)))" "${one[@]}")
        fi
        "$python" -c "import sys
ds, lat, fts, hts, h1ts, pts, gf, peak, rss, prss, flt = sys.argv[1:]
ratio = '%.1fx' % (float(fts) / float(pts)) if pts != '-' else '-'
cores = '%.2fx' % (float(hts) / float(h1ts)) if hts != '-' else '-'
print('| %s | %s | %.0f | %s | %s | %s | %s | %s | %.1f | %.0f %% | %.0f | %s | %.1f |' % (ds, lat, float(fts), hts,
      h1ts, cores, pts if pts == '-' else '%.0f' % float(pts), ratio, float(gf), 100 * float(gf) / float(peak),
      float(rss), prss, float(flt)))" "$ds" "$lat" "$fts" "$hts" "$h1ts" "$pts" "$gf" "$peak" \
            "$(field peak_rss_mb "$fj")" "$prss" "$(field faults_per_step "$fj")"
    done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
