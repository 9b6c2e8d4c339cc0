#!/usr/bin/env bash
# ctest: the results of this build equal the golden file (see results.sh).
#   check.sh FIVO_EXECUTABLE SHARED_DATA_DIR GOLDEN_FILE
set -uo pipefail
here="$(dirname "$0")"
out="$(mktemp /tmp/fivo_golden_out_XXXXXX)"
trap 'rm -f "$out"' EXIT
bash "$here/results.sh" "$1" "$2" >"$out"
rc=$?
if [ $rc -ne 0 ]; then exit $rc; fi
python3 "$here/compare.py" "$3" "$out"
