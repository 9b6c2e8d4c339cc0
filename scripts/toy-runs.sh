#!/usr/bin/env bash
# The toy-model training runs of docs/toy-models.md: each configuration is
# evaluated at its initial parameters, trained with one bound, and evaluated
# again (elbo, iwae, fivo at N = 4 on 256 valid sequences); prints one line
# per run: the bound minus the exact log p(x), per timestep, before and after.
#   scripts/toy-runs.sh [FIVO] [STEPS] [OUTDIR] [WHICH]
# WHICH: all (default: every configuration below), or twisted (only the
# comparison of fivo, fivo-aux, fivo-aux-td and sixo on forward and long_chain).
set -euo pipefail
fivo=${1:-build/bin/fivo}
steps=${2:-100000}
out=${3:-/tmp/fivo-toy-runs}
which=${4:-all}
mkdir -p "$out"
# The reference's run.sh for the forward model: T 5, variance 0.1, 4
# particles, batch 4, lr 1e-4, resampling always, multinomial, train_p off.
# (elbo and iwae take no resampling criterion; eval's fivo resamples always.)
# The forward model has the tilt extension, so fivo-aux runs on it.
runsh="--num_samples=4 --batch_size=4 --learning_rate=0.0001 --random_seed=1234"
always=--resampling_criterion=always
gaps() { # the eval line's <bound>_gap_per_t for elbo, iwae, fivo
    grep '^eval step' "$1" | tail -1 | tr ',' '\n' |
        sed -n 's/^ *\(elbo\|iwae\|fivo\|fivo-aux\|fivo-aux-td\|sixo\)_gap_per_t \(.*\)/\1 \2/p' |
        tr '\n' ' '
}
run() { # name bound steps settings...
    local name=$1 bound=$2 steps=$3
    shift 3
    local dir="$out/$name-$bound" ev=""
    rm -rf "$dir"
    # a twisted bound's tilt or twist lives in the bound: evaluate it too;
    # --resampling_criterion then sets that bound's, so eval's fivo gets
    # "always" from a [bound.fivo] section
    case "$bound" in fivo-aux | fivo-aux-td | sixo)
        printf '[bound.fivo]\nresampling_criterion = always\n' > "$out/eval-fivo-always.ini"
        ev="--config $out/eval-fivo-always.ini --bound=$bound --set eval.bounds=elbo,iwae,fivo,$bound"
        ;;
    esac
    "$fivo" --mode=eval --split=valid $runsh $always $ev "$@" --logdir="$dir" > "$dir.init.log" 2>&1
    local crit=""
    [ "$bound" = elbo ] || [ "$bound" = iwae ] || crit=$always
    # a run that stops (e.g. a NaN weight) is reported, and its last good
    # checkpoint evaluated
    local note="" t0=$SECONDS
    "$fivo" --mode=train --bound="$bound" $runsh $crit "$@" --max_steps="$steps" \
        --summarize_every="$steps" --eval_every="$steps" --logdir="$dir" > "$dir.train.log" 2>&1 ||
        note=" STOPPED: $(grep -m1 'error:' "$dir.train.log" | cut -c1-160)"
    local secs=$((SECONDS - t0))
    "$fivo" --mode=eval --split=valid $runsh $always $ev "$@" --logdir="$dir" > "$dir.eval.log" 2>&1
    echo "$name trained with $bound, $steps steps (${secs} s): init [$(gaps "$dir.init.log")] final [$(gaps "$dir.eval.log")]$note"
}
if [ "$which" = twisted ]; then
    # fivo, fivo-aux, fivo-aux-td and sixo, the same steps each; one shard
    # of the batch's 4 sequences (sixo's shuffled negatives pair a sequence
    # with another of its shard), for every bound alike.
    for b in fivo fivo-aux fivo-aux-td sixo; do
        run forward-unimodal "$b" "$steps" --model=forward --shards=1
    done
    for b in fivo fivo-aux fivo-aux-td sixo; do
        run long_chain-5x3-standard "$b" "$steps" --model=long_chain --shards=1 \
            --set model.num_observations=5 --set model.steps_per_observation=3
    done
    exit 0
fi
for b in elbo iwae fivo fivo-aux; do
    run forward-unimodal "$b" "$steps" --model=forward
done
run forward-bimodal fivo "$steps" --model=forward --set model.p_type=bimodal
run forward-nonlinear-round fivo "$steps" --model=forward --set model.p_type=nonlinear \
    --set model.transition_type=round
# The host computes the true log p(x) of every training batch; for squared
# and abs observations that is a grid quadrature (~5 ms a step), so those
# runs take a fifth of the steps.
for o in standard squared abs; do
    n=$steps
    [ "$o" = standard ] || n=$((steps / 5))
    run "long_chain-5x3-$o" fivo "$n" --model=long_chain --set model.num_observations=5 \
        --set model.steps_per_observation=3 --set model.observation_type=$o
done
