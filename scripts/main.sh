#!/usr/bin/env bash
# Command (1) of the README: install what is missing, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The main job: the JSB recipe of the README (a short run) when the JSB
# pickle is present, else the list of plugins found.
jsb=${JSB:-../shared/data/jsb_chorales.pickle}
if [ -f "$jsb" ]; then
    logdir=${LOGDIR:-/tmp/fivo/jsb_vrnn_fivo}
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --max_steps="${MAX_STEPS:-500}" --summarize_every=100
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --mode=eval --split=test
    ./build/bin/fivo --config examples/jsb.ini --dataset_path="$jsb" --logdir="$logdir" \
        --mode=sample --split=test
else
    ./build/bin/fivo plugins
fi
