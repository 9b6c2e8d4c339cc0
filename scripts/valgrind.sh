#!/usr/bin/env bash
# Every test executable under valgrind memcheck, in a separate Debug build
# without sanitizers. Child processes (the host tests spawn the fivo
# executable) are traced too; outside programs (python3 for numpy checks)
# are not. Fails on any memory error or definite leak;
# GLib/ltdl/OpenBLAS one-time allocations that stay "still reachable" or
# "possibly lost" are fine. Part of .ci/run: about 20 minutes on 2 cores.
#   BUILD_DIR=dir   build folder (default build-valgrind)
#   JOBS=N          parallel build jobs and test executables (default 2)
#   FIVO_SHARED_DATA_DIR=dir   the real data files (default: the build's), for
#                              the few tests of their facts
#   ONLY=regex      run only the test executables whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

build="${BUILD_DIR:-build-valgrind}"
jobs="${JOBS:-2}"
extra=()
if [ -n "${FIVO_SHARED_DATA_DIR:-}" ]; then extra+=("-DFIVO_SHARED_DATA_DIR=$FIVO_SHARED_DATA_DIR"); fi
# OpenBLAS for every product: libxsmm's JIT kernels are left to the Release build.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFIVO_SANITIZE=OFF -DFIVO_WERROR=ON \
  -DFIVO_WITH_LIBXSMM=OFF "${extra[@]}" >/dev/null
cmake --build "$build" -j"$jobs"

logs="$build/valgrind-logs"
rm -rf "$logs"
mkdir -p "$logs"
export OPENBLAS_NUM_THREADS=1 # fewer threads: faster under valgrind, same results
# The slowest executables first (measured under valgrind in CI: 170-400 s
# each, the rest mostly under 60 s), so two workers finish together instead
# of one starting a long pole at the end.
slow_first=(test_segments test_resampling_grads test_toy_models test_sixo test_write_faults
            test_train_step)
tests=()
for name in "${slow_first[@]}"; do
  [ -x "$build/tests/$name" ] || continue
  if [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]]; then continue; fi
  tests+=("$build/tests/$name")
done
for t in "$build"/tests/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  name="$(basename "$t")"
  if [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]]; then continue; fi
  [[ " ${slow_first[*]} " == *" $name "* ]] && continue
  tests+=("$t")
done

run_one() {
  local t="$1" logs="$2" name start rc
  name="$(basename "$t")"
  start=$(date +%s)
  rc=0
  valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --trace-children=yes --trace-children-skip='*python*,/bin/*,/usr/bin/*' --log-file="$logs/$name.%p.log" \
    "$t" --gtest_brief=1 >"$logs/$name.out" 2>&1 || rc=$?
  echo "$name: exit $rc, $(( $(date +%s) - start )) s"
}
export -f run_one
start=$(date +%s)
printf '%s\n' "${tests[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$logs" \
  | tee "$logs/summary.txt"

# With MPI: two ranks of a short sharded training run with periodic eval,
# each under valgrind (Open MPI's own allocations suppressed, see
# scripts/valgrind-openmpi.supp). About a minute.
# On the tiny pianoroll fixture the build writes (tests/fixtures).
data="$build/test_fixtures"
if grep -q "^FIVO_HAVE_MPI:INTERNAL=ON" "$build/CMakeCache.txt" 2>/dev/null && [ -f "$data/tiny_pianoroll.pkl" ]; then
  mpi_dir="$(mktemp -d /tmp/fivo_valgrind_mpi_XXXXXX)"
  supp=(--suppressions="$(pwd)/scripts/valgrind-openmpi.supp")
  [ -f /usr/share/openmpi/openmpi-valgrind.supp ] && supp+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
  rc=0
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 900 mpirun --oversubscribe -np 2 \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite "${supp[@]}" \
    --log-file="$logs/mpi_train.%p.log" "$build/bin/fivo" --dataset_path="$data/tiny_pianoroll.pkl" \
    --latent_size=8 --batch_size=4 --shards=2 --max_steps=3 --summarize_every=3 --eval_every=3 \
    --eval_split=train --logdir="$mpi_dir" >"$logs/mpi_train.out" 2>&1 || rc=$?
  rm -rf "$mpi_dir"
  echo "mpi_train (2 ranks): exit $rc" | tee -a "$logs/summary.txt"
fi

# The logs decide: a traced child that exits 1 on purpose (a bad-input test)
# must still have no valgrind errors.
bad=0
for f in "$logs"/*.log; do
  if grep -qE "ERROR SUMMARY: [1-9]" "$f"; then
    echo "valgrind errors in $f:"
    grep -E "^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in [0-9,]+ blocks are definitely)" "$f" | head -20
    bad=1
  fi
done
if grep -q "exit [1-9]" "$logs/summary.txt"; then
  echo "failing test executables (output in $logs/<name>.out):"
  grep "exit [1-9]" "$logs/summary.txt"
  bad=1
fi
echo "valgrind: ${#tests[@]} test executables in $(( $(date +%s) - start )) s; $( [ $bad = 0 ] && echo clean || echo FAILED )"
exit $bad
