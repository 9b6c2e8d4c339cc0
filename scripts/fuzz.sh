#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan, the fuzzing
# build mode that skips checksum comparisons) in build-fuzz/ and runs each
# for SECONDS (default 60), one after the other (this machine is shared).
# Prints per target: wall and CPU seconds, executions, executions/s (wall),
# edges reached (libFuzzer's "cov"), features and crashes. Corpora grow in
# build-fuzz/corpus/<target> (outside the tree), seeded by fuzz/seeds.c and
# ../shared/data when present.
# Exit status 1 when any target crashed, leaked or timed out; the inputs are
# in build-fuzz/artifacts/.
#   usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pickle pianoroll tfrecord timit config checkpoint descriptor)

CC=${CC:-clang-14}
CXX=${CXX:-clang++-14}
B=build-fuzz
mkdir -p $B
CC=$CC CXX=$CXX cmake -S . -B $B -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIVO_FUZZ=ON \
  -DFIVO_BUILD_TESTS=OFF -DFIVO_WITH_LIBXSMM=OFF >$B/configure.log 2>&1 || { cat $B/configure.log; exit 1; }
cmake --build $B -j2 --target fivo_fuzz >$B/build.log 2>&1 || { tail -50 $B/build.log; exit 1; }

seeds=$B/seeds
rm -rf "$seeds"
$B/fuzz/fivo_fuzz_seeds "$seeds"
shared=${FIVO_SHARED_DATA:-../shared/data}
if [ -d "$shared" ]; then
  [ -f "$shared/tiny_speech_dataset.tfrecord" ] && cp "$shared/tiny_speech_dataset.tfrecord" "$seeds/tfrecord/"
  for t in pickle pianoroll; do
    [ -f "$shared/tiny_pianoroll.pkl" ] && cp "$shared/tiny_pianoroll.pkl" "$seeds/$t/"
  done
fi

mkdir -p $B/artifacts $B/logs
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TMPDIR=${TMPDIR:-/tmp}
status=0
summary=()
for t in "${targets[@]}"; do
  corpus=$B/corpus/$t
  mkdir -p "$corpus"
  log=$B/logs/$t.log
  # Earlier findings move aside, so this run's count is its own.
  mkdir -p $B/artifacts/old
  find $B/artifacts -maxdepth 1 -name "$t-*" -exec mv {} $B/artifacts/old/ \;
  set +e
  # CPU seconds too: on a shared machine the wall-clock rate says little.
  TIMEFORMAT='%U %S'
  { time $B/fuzz/fuzz_$t -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=$B/artifacts/$t- "$corpus" "$seeds/$t" >"$log" 2>&1 ; } \
    2>"$log.cpu"
  rc=$?
  set -e
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$log.cpu" 2>/dev/null || echo "?")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
  crashes=$(find $B/artifacts -maxdepth 1 -name "$t-*" | wc -l)
  [ $rc -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  line=$(printf '%-11s %6ss %6ss %12s %9s/s %7s %8s %8s' "$t" "$secs" "${cpu:-?}" "${execs:-?}" "$rate" "${cov:-?}" "${ft:-?}" "$crashes")
  summary+=("$line")
  echo "$line"
  if [ "$crashes" -ne 0 ]; then
    status=1
    echo "fuzz_$t: failure (exit $rc); see $log and $B/artifacts/$t-*" >&2
    grep -m5 -E 'ERROR|runtime error|SUMMARY' "$log" >&2 || true
  fi
done
echo
printf '%-11s %7s %7s %12s %11s %7s %8s %8s\n' target time cpu executions rate edges features crashes
printf '%s\n' "${summary[@]}"
exit $status
