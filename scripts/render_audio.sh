#!/usr/bin/env bash
# Renders fivo's MIDI samples to WAV for people without a MIDI player, with
# fluidsynth and Debian's General MIDI soundfont (installed when missing).
#   scripts/render_audio.sh LOGDIR_OR_SAMPLES_DIR [RATE]
# Writes <name>.wav next to every <name>.mid (44100 Hz unless RATE is given).
set -euo pipefail
dir="${1:?usage: render_audio.sh LOGDIR_OR_SAMPLES_DIR [RATE]}"
rate="${2:-44100}"
[ -d "$dir/samples" ] && dir="$dir/samples"
font=/usr/share/sounds/sf2/FluidR3_GM.sf2

missing=()
command -v fluidsynth >/dev/null || missing+=(fluidsynth)
[ -f "$font" ] || missing+=(fluid-soundfont-gm)
if ((${#missing[@]})); then
  echo "render_audio: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

shopt -s nullglob
files=("$dir"/*.mid)
if ((${#files[@]} == 0)); then
  echo "render_audio: no .mid files in $dir (run fivo --mode=sample on a pianoroll dataset)" >&2
  exit 1
fi
for mid in "${files[@]}"; do
  wav="${mid%.mid}.wav"
  fluidsynth -ni -g 1.0 -r "$rate" -F "$wav" "$font" "$mid" >/dev/null
  echo "$wav"
done
