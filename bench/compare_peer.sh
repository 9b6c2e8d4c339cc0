#!/bin/sh
# Runs fivo_bench_train and the PyTorch peer (../shared/peers/torch_vrnn_fivo.py)
# side by side in one run on the JSB chorales pickle: same VRNN (filtering
# proposal), bound, latent size, batch 4, 4 particles, Adam; one thread each
# (fivo pins OpenBLAS to one thread for bit-reproducibility: see core/ctx.c).
# Prints a table of training timesteps per
# second (sum of sequence lengths per second), the ratio to the peer, peak RSS,
# plus fivo's eval throughput.
#
#   bench/compare_peer.sh [build_dir] [steps]
# Environment: DATA (default ../shared/data/jsb_chorales.pickle relative to the
# source tree), PEER, PYTHON (default /usr/bin/python3), LATENTS ("32 64 256"),
# BOUNDS ("elbo iwae fivo").
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
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build --target fivo_bench_train)" >&2; exit 1; }

field() { # field NAME JSON
    printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p" | tr -d '"'
}
peak_rss_mb() { # runs "$@" and prints its JSON line with peak RSS (MB) appended as "| rss"
    out=$( { /usr/bin/time -f 'RSS %M' "$@" 2>&1 1>&3 | grep '^RSS' >&4; } 3>&1 4>/tmp/fivo_cmp_rss.$$ )
    rss=$(sed 's/RSS //' /tmp/fivo_cmp_rss.$$); rm -f /tmp/fivo_cmp_rss.$$
    printf '%s|%s\n' "$out" "$(awk "BEGIN{printf \"%.1f\", $rss/1024}")"
}

printf '%-6s %-5s %-7s %14s %14s %8s %10s %10s %14s\n' latent bound threads \
    fivo_ts/s peer_ts/s ratio fivo_MB peer_MB fivo_eval_ts/s
for latent in ${LATENTS:-32 64 256}; do
    for bound in ${BOUNDS:-elbo iwae fivo}; do
        warm=5
        p=$(peak_rss_mb "$python" "$peer" --data "$data" --bound "$bound" --latent "$latent" \
            --batch 4 --particles 4 --steps "$steps" --warmup "$warm" --threads 1)
        pj=${p%|*}; prss=${p##*|}
        pts=$(field timesteps_per_sec "$pj")
        for th in 1; do
            f=$(peak_rss_mb "$bench" --data "$data" --bound "$bound" \
                --latent "$latent" --batch 4 --particles 4 --steps $((steps * 4)) --warmup 10)
            fj=${f%|*}; frss=${f##*|}
            fts=$(field timesteps_per_sec "$fj")
            e=$("$bench" --data "$data" --bound "$bound" --latent "$latent" \
                --batch 4 --particles 4 --steps $((steps * 4)) --warmup 10 --eval)
            ets=$(field timesteps_per_sec "$e")
            ratio=$(awk "BEGIN{printf \"%.1fx\", $fts/$pts}")
            printf '%-6s %-5s %-7s %14s %14s %8s %10s %10s %14s\n' "$latent" "$bound" "$th" \
                "$fts" "$pts" "$ratio" "$frss" "$prss" "$ets"
        done
    done
done
