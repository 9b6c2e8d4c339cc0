#!/usr/bin/env bash
# Command (1) of the README: install what is missing, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The main job. Until the model plugins land this lists the plugins found;
# later issues replace it with the real training run.
./build/bin/fivo plugins
