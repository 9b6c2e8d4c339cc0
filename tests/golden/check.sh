#!/usr/bin/env bash
# ctest: the results of this build equal the golden file (see results.sh),
# for one part of it: the JSB runs (need the real JSB pickle) or the GHMM
# main job (needs no file).
#   check.sh FIVO_EXECUTABLE SHARED_DATA_DIR GOLDEN_FILE jsb|ghmm
set -uo pipefail
here="$(dirname "$0")"
part="$4"
out="$(mktemp /tmp/fivo_golden_out_XXXXXX)"
want="$(mktemp /tmp/fivo_golden_want_XXXXXX)"
trap 'rm -f "$out" "$want"' EXIT
bash "$here/results.sh" "$1" "$2" "$part" >"$out"
rc=$?
if [ $rc -ne 0 ]; then
  cat "$out" # the skip reason, or what was printed before the failure
  exit $rc
fi
# The golden file's sections ("== name") of this part.
awk -v part="$part" '/^== /{ keep = (part == "ghmm") == ($0 == "== ghmm main job") } keep' \
  "$3" >"$want"
python3 "$here/compare.py" "$want" "$out"
