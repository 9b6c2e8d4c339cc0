#!/usr/bin/env bash
# Command (1) of the README: install what is missing, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The main job: train the Gaussian HMM's learned filtering proposal with FIVO
# (the reference's defaults: batch 4, 4 particles, Adam 2e-4, variance 0.1,
# 5 timesteps) and watch gap_per_t (exact log-likelihood minus the bound, per
# timestep) close; the last line evaluates the trained proposal on the valid
# split. Takes a few seconds.
./build/bin/fivo --model=ghmm --bound=fivo --max_steps=50000 --summarize_every=5000 \
    --eval_every=50000 --logdir=/tmp/fivo/ghmm_fivo
