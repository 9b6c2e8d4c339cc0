#!/bin/sh
# Runs fivo_bench_train and the PyTorch peer (../shared/peers/torch_vrnn_fivo.py)
# side by side in one run on the JSB chorales pickle: same VRNN (filtering
# proposal), bound, latent size, batch 4, 4 particles, Adam. The peer runs on
# one thread; fivo on one thread and on every core (--threads 0), with the
# same bits either way. Prints per row: training timesteps per second (sum of
# sequence lengths per second), the ratio to the peer, fivo's GFLOP/s (2 m n k
# of every sgemm it ran, forward and backward, per second), that as a
# fraction of this core's single-thread sgemm peak measured in the same run at
# the step's main shape (times the thread count), minor page faults per
# steady-state step, peak RSS of both, and fivo's eval throughput. With
# BASE=<build dir of an older commit> it also runs that build's benchmark (one
# thread) for a before/after column.
#
#   bench/compare_peer.sh [build_dir] [steps]
# Environment: DATA (default ../shared/data/jsb_chorales.pickle relative to the
# source tree), PEER, PYTHON (default /usr/bin/python3), LATENTS ("32 64 256"),
# BOUNDS ("elbo iwae fivo"), THREADS ("1 0"), BATCH (4), PARTICLES (4), BASE.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
steps=${2:-40}
data=${DATA:-$src/../shared/data/jsb_chorales.pickle}
[ -f "$data" ] || data=/work/shared/data/jsb_chorales.pickle
peer=${PEER:-$src/../shared/peers/torch_vrnn_fivo.py}
[ -f "$peer" ] || peer=/work/shared/peers/torch_vrnn_fivo.py
python=${PYTHON:-/usr/bin/python3}
bench=$build/bin/fivo_bench_train
batch=${BATCH:-4}
parts=${PARTICLES:-4}
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build --target fivo_bench_train)" >&2; exit 1; }

field() { # field NAME JSON
    printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p" | tr -d '"'
}
peak_rss_mb() { # runs "$@" and prints its JSON line with peak RSS (MB) appended as "| rss"
    out=$( { /usr/bin/time -f 'RSS %M' "$@" 2>&1 1>&3 | grep '^RSS' >&4; } 3>&1 4>/tmp/fivo_cmp_rss.$$ )
    rss=$(sed 's/RSS //' /tmp/fivo_cmp_rss.$$); rm -f /tmp/fivo_cmp_rss.$$
    printf '%s|%s\n' "$out" "$(awk "BEGIN{printf \"%.1f\", $rss/1024}")"
}

printf '%-6s %-5s %-7s %11s %11s %10s %7s %7s %6s %7s %8s %8s %12s\n' latent bound threads \
    base_ts/s fivo_ts/s peer_ts/s ratio GFLOP/s peak% flt/st fivo_MB peer_MB fivo_eval_ts/s
for latent in ${LATENTS:-32 64 256}; do
    for bound in ${BOUNDS:-elbo iwae fivo}; do
        warm=5
        p=$(peak_rss_mb "$python" "$peer" --data "$data" --bound "$bound" --latent "$latent" \
            --batch "$batch" --particles "$parts" --steps "$steps" --warmup "$warm" --threads 1)
        pj=${p%|*}; prss=${p##*|}
        pts=$(field timesteps_per_sec "$pj")
        bts=-
        if [ -n "${BASE:-}" ]; then
            b=$("$BASE/bin/fivo_bench_train" --data "$data" --bound "$bound" --latent "$latent" \
                --batch "$batch" --particles "$parts" --steps $((steps * 4)) --warmup 10)
            bts=$(field timesteps_per_sec "$b")
        fi
        for th in ${THREADS:-1 0}; do
            f=$(peak_rss_mb "$bench" --data "$data" --bound "$bound" --threads "$th" \
                --latent "$latent" --batch "$batch" --particles "$parts" --steps $((steps * 4)) --warmup 10)
            fj=${f%|*}; frss=${f##*|}
            fts=$(field timesteps_per_sec "$fj")
            nth=$(field threads "$fj")
            gf=$(field gflops "$fj")
            pf=$(awk "BEGIN{printf \"%.1f\", 100 * $(field peak_fraction "$fj")}")
            flt=$(field faults_per_step "$fj")
            e=$("$bench" --data "$data" --bound "$bound" --latent "$latent" --threads "$th" \
                --batch "$batch" --particles "$parts" --steps $((steps * 4)) --warmup 10 --eval)
            ets=$(field timesteps_per_sec "$e")
            ratio=$(awk "BEGIN{printf \"%.1fx\", $fts/$pts}")
            printf '%-6s %-5s %-7s %11s %11s %10s %7s %7s %6s %7s %8s %8s %12s\n' "$latent" "$bound" \
                "$nth" "$bts" "$fts" "$pts" "$ratio" "$gf" "$pf" "$flt" "$frss" "$prss" "$ets"
        done
    done
done
