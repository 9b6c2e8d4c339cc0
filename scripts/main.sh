#!/usr/bin/env bash
# README command (1): install what is missing, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The main job on the embedded default: train the Gaussian HMM's learned
# filtering proposal with FIVO on synthetic chain data (the reference's
# defaults: batch 4, 4 particles, Adam 2e-4, variance 0.1, 5 timesteps) and
# watch gap_per_t (exact log-likelihood minus the bound, per timestep) close;
# the last line evaluates the trained proposal on the valid split. Seconds.
# Each run gets a fresh log folder: a folder with a checkpoint would resume.
run=${RUN_DIR:-/tmp/fivo/main-$(date +%Y%m%d-%H%M%S)-$$}
./build/bin/fivo --model=ghmm --bound=fivo --max_steps=50000 --summarize_every=5000 \
    --eval_every=50000 --logdir="$run/ghmm_fivo"
# Its curves as a picture (when fivo was built with cairo); the event file
# beside metrics.jsonl opens with `tensorboard --logdir "$run"`.
./build/bin/fivo plot --logdir="$run/ghmm_fivo" || true
# Then, when the JSB Chorales pickle is at hand, a short run of the README's
# JSB recipe: train a VRNN with FIVO, evaluate ELBO/IWAE/FIVO, sample.
# JSB=path names the pickle; else $PIANOROLL_DIR/jsb.pkl, as the reference
# (scripts/download_pianorolls.sh "$PIANOROLL_DIR" writes it); else the
# shared copy beside this checkout.
if [ -n "${JSB:-}" ]; then
    jsb=$JSB
elif [ -n "${PIANOROLL_DIR:-}" ] && [ -f "$PIANOROLL_DIR/jsb.pkl" ]; then
    jsb=$PIANOROLL_DIR/jsb.pkl
else
    jsb=../shared/data/jsb_chorales.pickle
fi
if [ -f "$jsb" ]; then
    logdir=$run/jsb_vrnn_fivo
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --max_steps="${MAX_STEPS:-500}" --summarize_every=100
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --mode=eval --split=test
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --mode=sample --split=test
    # samples/*.mid (any MIDI player, or scripts/render_audio.sh), and
    # curves.png + samples.png
    ./build/bin/fivo plot --logdir="$logdir" || true
    echo "main.sh: outputs in $run (tensorboard --logdir $run)"
else
    echo "main.sh: $jsb not found; skipping the JSB recipe (get it with"
    echo "  PIANOROLL_DIR=~/pianorolls scripts/download_pianorolls.sh \"\$PIANOROLL_DIR\"; see docs/datasets-download.md)"
fi
