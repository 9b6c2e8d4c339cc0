#!/usr/bin/env bash
# ctest: fivo under mpirun gives the bits of one process (see docs/mpi.md).
#   run.sh CASE FIVO_EXECUTABLE MPIEXEC_OR_EMPTY FIXTURE_DIR FAULT_SHIM
# CASE: train_np2 train_np4 ghmm_eval_np2 resume eval_np2 fault_exit fault_nan
#       fault_error bad_file shards_indivisible default_shards_np2
# FIXTURE_DIR: the build's test fixtures (tests/fixtures), for the tiny
# pianoroll. FAULT_SHIM: tests/reliability/fault_train.c, preloaded into the
# ranks of the fault cases (production code reads no fault variable).
# Exits 77 (skipped) when fivo was built without MPI.
set -uo pipefail
case_name="$1" fivo="$2" mpiexec="$3" data="$4/tiny_pianoroll.pkl" shim="${5:-}"
if [ -z "$mpiexec" ]; then
  echo "SKIP: fivo was built without MPI (FIVO_MPI=OFF or MPI not found)"
  exit 77
fi
if [ ! -f "$data" ]; then
  echo "FAIL: the fixture $data is missing (the build writes it: target fivo_test_fixture_files)"
  exit 1
fi
# Open MPI refuses root without these; 2 cores need --oversubscribe for 4 ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export FIVO_LOG_LEVEL=warn
# Under ASan (FIVO_SANITIZE builds): Open MPI's components leak at exit from
# modules it has unloaded, which LeakSanitizer can neither name nor
# suppress, so leak checking is off in these ranks (ASan's and UBSan's error
# checks stay on; scripts/valgrind.sh checks a 2-rank run for leaks with
# scripts/valgrind-openmpi.supp). lsan.supp covers what can be named.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp"
unset FIVO_TEST_FAULT
work="$(mktemp -d /tmp/fivo_mpi_test_XXXXXX)"
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
mpi() { local np="$1"; shift; timeout 90 "$mpiexec" --oversubscribe -np "$np" "$@"; }
# Two ranks with the fault shim preloaded and FIVO_TEST_FAULT=rank:step:kind
# (ASan, when built in, need not come first: the shim is the test's own).
mpi_fault() { # rank:step:kind command...
  local fault="$1"; shift
  [ -f "$shim" ] || fail "the fault shim '$shim' is missing (target fivo_fault_train)"
  mpi 2 env LD_PRELOAD="$shim" FIVO_TEST_FAULT="$fault" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
# A short VRNN run on the tiny pianoroll: global batch 4 in 4 shards.
common=(--dataset_path="$data" --latent_size=16 --batch_size=4 --shards=4 --num_samples=4
        --summarize_every=6 --checkpoint_every_secs=1000)
same_ckpt() { # dir_a dir_b step
  local a b
  a="$(printf '%s/ckpt-%012d.fivo' "$1" "$3")" b="$(printf '%s/ckpt-%012d.fivo' "$2" "$3")"
  [ -f "$a" ] || fail "missing $a"
  [ -f "$b" ] || fail "missing $b"
  cmp "$a" "$b" || fail "$a and $b differ"
  echo "ok: $(basename "$a") byte-identical in $1 and $2"
}
# The bound and rate of every train/eval report (not the timings).
reports() { python3 - "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print({k: v for k, v in r.items() if "per_sec" not in k and k != "time"})
EOF
}
same_reports() {
  diff <(reports "$1/metrics.jsonl") <(reports "$2/metrics.jsonl") ||
    fail "metrics.jsonl differ between $1 and $2"
  echo "ok: $(wc -l <"$1/metrics.jsonl") reports equal"
}
one_process_reference() { # dir steps [extra flags]
  local d="$1" n="$2"; shift 2
  "$fivo" "${common[@]}" --max_steps="$n" --logdir="$d" "$@" >"$d.log" 2>&1 ||
    { cat "$d.log"; fail "one-process run failed"; }
}

case "$case_name" in
train_np2 | train_np4)
  np="${case_name#train_np}"
  one_process_reference "$work/one" 24
  mpi "$np" "$fivo" "${common[@]}" --max_steps=24 --logdir="$work/mpi" >"$work/mpi.log" 2>&1 ||
    { cat "$work/mpi.log"; fail "mpirun -np $np failed"; }
  same_ckpt "$work/one" "$work/mpi" 24
  same_reports "$work/one" "$work/mpi"
  # Only rank 0 writes: one metrics line per report, not np.
  [ "$(wc -l <"$work/mpi/metrics.jsonl")" -eq 4 ] || fail "expected 4 reports from rank 0 only"
  ;;
ghmm_eval_np2)
  # The GHMM (exact likelihood) with periodic eval and best.fivo.
  g=(--model=ghmm --batch_size=8 --shards=2 --max_steps=40 --summarize_every=10 --eval_every=20
     --checkpoint_every_secs=1000)
  "$fivo" "${g[@]}" --logdir="$work/one" >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "one process"; }
  mpi 2 "$fivo" "${g[@]}" --logdir="$work/mpi" >"$work/mpi.log" 2>&1 ||
    { cat "$work/mpi.log"; fail "mpirun -np 2 failed"; }
  same_ckpt "$work/one" "$work/mpi" 40
  cmp "$work/one/best.fivo" "$work/mpi/best.fivo" || fail "best.fivo differs"
  same_reports "$work/one" "$work/mpi"
  ;;
resume)
  # Uninterrupted on one process vs 12 steps on 2 ranks, then the rest on 1 and on 4.
  one_process_reference "$work/one" 24
  mpi 2 "$fivo" "${common[@]}" --max_steps=12 --logdir="$work/r2" >"$work/r2.log" 2>&1 ||
    { cat "$work/r2.log"; fail "first half on 2 ranks failed"; }
  cp -r "$work/r2" "$work/r4"
  "$fivo" "${common[@]}" --max_steps=24 --logdir="$work/r2" >"$work/r1b.log" 2>&1 ||
    { cat "$work/r1b.log"; fail "resume on 1 process failed"; }
  grep -q "resuming from .*ckpt-000000000012" "$work/r1b.log" || fail "did not resume at step 12"
  same_ckpt "$work/one" "$work/r2" 24
  mpi 4 "$fivo" "${common[@]}" --max_steps=24 --logdir="$work/r4" >"$work/r4b.log" 2>&1 ||
    { cat "$work/r4b.log"; fail "resume on 4 ranks failed"; }
  same_ckpt "$work/one" "$work/r4" 24
  ;;
eval_np2)
  one_process_reference "$work/one" 6
  ev=(--mode=eval --dataset_path="$data" --latent_size=16 --batch_size=1 --split=train
      --logdir="$work/one")
  "$fivo" "${ev[@]}" >"$work/e1.out" 2>"$work/e1.err" || { cat "$work/e1.err"; fail "eval on 1"; }
  mpi 2 "$fivo" "${ev[@]}" >"$work/e2.out" 2>"$work/e2.err" || { cat "$work/e2.err"; fail "eval on 2"; }
  diff "$work/e1.out" "$work/e2.out" || fail "eval output differs"
  python3 - "$work/one/metrics.jsonl" <<'EOF' || fail "eval reports differ (to the last bit)"
import json, sys
ev = [r for r in map(json.loads, open(sys.argv[1])) if r.get("mode") == "eval"]
assert len(ev) == 2, f"expected 2 eval reports, got {len(ev)}"
a, b = ev
a.pop("time"); b.pop("time")
assert a == b, f"1 process {a}\n2 ranks {b}"
print("ok: eval reports equal:", {k: v for k, v in a.items() if k.endswith("per_t")})
EOF
  ;;
fault_exit)
  # Rank 1 ends at step 5: every rank must stop, with mpirun naming rank 1.
  start=$(date +%s)
  mpi_fault 1:5:exit "$fivo" "${common[@]}" --max_steps=1000 --logdir="$work/x" \
    >"$work/x.log" 2>&1
  rc=$? elapsed=$(($(date +%s) - start))
  cat "$work/x.log"
  [ $rc -ne 0 ] || fail "the run succeeded although rank 1 exited"
  [ $rc -ne 124 ] || fail "the run hung (timeout)"
  grep -Eq 'Process name: \[\[[0-9]+,[0-9]+\],1\]|rank 1' "$work/x.log" || fail "no message naming rank 1"
  echo "ok: stopped in ${elapsed}s with exit code $rc"
  ;;
fault_nan | fault_error)
  kind="${case_name#fault_}"
  mpi_fault "1:5:$kind" "$fivo" "${common[@]}" --max_steps=1000 \
    --checkpoint_every_secs=0 --logdir="$work/x" >"$work/x.log" 2>&1
  rc=$?
  cat "$work/x.log"
  [ $rc -ne 0 ] || fail "the run succeeded although rank 1 failed"
  [ $rc -ne 124 ] || fail "the run hung (timeout)"
  n=$(grep -c "rank 1 of 2 (host " "$work/x.log")
  [ "$n" -eq 1 ] || fail "expected one message naming rank 1, got $n"
  if [ "$kind" = nan ]; then
    grep -q "is nan" "$work/x.log" || fail "the message does not name the NaN"
    # Steps 0..4 done and checkpointed; nothing after the NaN.
    newest="$(ls "$work/x" | grep '^ckpt-' | sort | tail -1)"
    [ "$newest" = "ckpt-000000000005.fivo" ] || fail "newest checkpoint is $newest, expected step 5"
  else
    grep -q "$data" "$work/x.log" || fail "the message does not name the file"
  fi
  ;;
bad_file)
  # Rank 1 is given a file that does not exist (MPMD command line).
  mpi 1 "$fivo" "${common[@]}" --max_steps=5 --logdir="$work/x" : \
    -np 1 "$fivo" "${common[@]}" --dataset_path="$work/missing.pkl" --max_steps=5 --logdir="$work/x" \
    >"$work/x.log" 2>&1
  rc=$?
  cat "$work/x.log"
  [ $rc -ne 0 ] || fail "the run succeeded although rank 1 has no data"
  [ $rc -ne 124 ] || fail "the run hung (timeout)"
  grep -q "rank 1 of 2 (host $(hostname)).*missing.pkl" "$work/x.log" ||
    fail "no message naming rank 1, its host and the file"
  ;;
default_shards_np2)
  # The reference's flags, no --shards: one sequence per shard by default,
  # so 2 ranks (dividing the batch of 4) work and give one process's bits.
  g=(--model=ghmm --bound=fivo --max_steps=30 --summarize_every=10 --checkpoint_every_secs=1000)
  "$fivo" "${g[@]}" --logdir="$work/one" >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "one process"; }
  mpi 2 "$fivo" "${g[@]}" --logdir="$work/mpi" >"$work/mpi.log" 2>&1 ||
    { cat "$work/mpi.log"; fail "mpirun -np 2 with the default shards failed"; }
  same_ckpt "$work/one" "$work/mpi" 30
  same_reports "$work/one" "$work/mpi"
  ;;
shards_indivisible)
  mpi 2 "$fivo" "${common[@]}" --shards=3 --max_steps=5 --logdir="$work/x" >"$work/x.log" 2>&1
  rc=$?
  cat "$work/x.log"
  [ $rc -ne 0 ] || fail "3 shards on 2 ranks was accepted"
  grep -q "shards = 3 is not divisible by the 2 MPI ranks" "$work/x.log" || fail "no clear message"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS: $case_name"
