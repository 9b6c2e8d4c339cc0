#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root or with sudo), configures and
# builds fivo into ./build. Fast when everything is already there.
#   JOBS=N  parallel build jobs (default 2)
#   BUILD_DIR=dir  build folder (default build)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libglib2.0-dev libltdl-dev libopenblas-dev
          libsndfile1-dev libgtest-dev googletest python3-numpy libcairo2-dev
          python3-protobuf protobuf-compiler python3-mido sox
          libopenmpi-dev openmpi-bin libxsmm-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

build="${BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"${JOBS:-2}"
