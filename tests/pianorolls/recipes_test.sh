#!/usr/bin/env bash
# Each examples/ pianoroll recipe parses and trains 2 steps (then evaluates
# its [eval] split, as at max_steps) on a pickle this test writes with the
# recipe's expect_counts; a pickle of another dataset is refused naming the
# file and the counts expected, and --set dataset.expect_counts= accepts it.
#   recipes_test.sh FIVO RECIPE.ini
set -uo pipefail
fivo=$1
recipe=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fivo_recipe_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL ($(basename "$recipe")): $*" >&2
    [ -f "$tmp/log" ] && sed 's/^/  | /' "$tmp/log" >&2
    exit 1
}
counts=$(sed -n 's/^expect_counts *= *\([0-9/]*\).*/\1/p' "$recipe")
[ -n "$counts" ] || fail "no [dataset] expect_counts in the recipe"
python3 "$here/make_pianorolls.py" "$tmp/good.pkl" "$counts" 3 || fail "cannot write the fixture"
run() { "$fivo" --config "$recipe" --logdir="$tmp/run$1" --max_steps=2 --threads=1 \
    --summarize_every=1 "${@:2}" >"$tmp/log" 2>&1; }

run 1 --dataset_path="$tmp/good.pkl" || fail "2 steps on a fixture of $counts failed"
grep -q "\"mode\":\"train\",\"time\":[0-9.]*,\"step\":2," "$tmp/run1/metrics.jsonl" || fail "no train report at step 2"
grep -q '"mode":"eval"' "$tmp/run1/metrics.jsonl" || fail "no eval report"
[ -f "$tmp/run1/ckpt-000000000002.fivo" ] || fail "no checkpoint at step 2"

# Another dataset's counts: refused before training, naming file and counts.
IFS=/ read -r a b c <<<"$counts"
other=$((a + 1))/$b/$c
python3 "$here/make_pianorolls.py" "$tmp/other.pkl" "$other" 3 || fail "cannot write the fixture"
if run 2 --dataset_path="$tmp/other.pkl"; then fail "a pickle of $other sequences was accepted"; fi
grep -q "other.pkl: \[dataset\] expect_counts = $counts.*has $other" "$tmp/log" ||
    fail "the refusal does not name the file, the expected and the found counts"
[ ! -e "$tmp/run2/ckpt-000000000002.fivo" ] || fail "it trained anyway"
run 3 --dataset_path="$tmp/other.pkl" --set dataset.expect_counts= ||
    fail "--set dataset.expect_counts= did not accept any file"
echo "ok ($(basename "$recipe"): $counts)"
