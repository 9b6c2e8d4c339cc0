#!/usr/bin/env bash
# The pianoroll table (docs/results.md): for each dataset, model and bound,
# trains by the dataset's recipe (examples/<dataset>.ini: the valid split's
# bound every eval_every steps into best.fivo, early stopping), then
# evaluates best.fivo on the test split with ELBO, IWAE and FIVO at 4 and 16
# particles, and prints one Markdown table with steps, best step, wall and
# CPU time, beside the published numbers.
#
#   scripts/pianoroll_table.sh [BUILD_DIR] [OUT_DIR]
#   scripts/pianoroll_table.sh --table-only [OUT_DIR]   (print what is done)
#
# Environment:
#   PIANOROLL_DIR  folder with jsb.pkl, nottingham.pkl, musedata.pkl and
#                  piano-midi.de.pkl (scripts/download_pianorolls.sh writes them)
#   DATASETS       default "nottingham jsb musedata piano-midi"
#   MODELS         default "vrnn";  BOUNDS  default "elbo iwae fivo"
#   JOBS           runs at once (default 2), THREADS per run (default 1)
#   EXTRA          more flags for every training run (e.g. --max_steps=2000)
# Interrupted runs resume from their last checkpoint (with the early-stopping
# count intact); a finished step (training, each evaluation) is marked done in
# its run folder and skipped when the script runs again. Wall and CPU time are
# summed over every invocation.
set -euo pipefail
cd "$(dirname "$0")/.."

table_only=0
if [ "${1:-}" = "--table-only" ]; then
    table_only=1
    shift
    out="${1:-/tmp/fivo/pianoroll_table}"
else
    build="${1:-build}"
    out="${2:-/tmp/fivo/pianoroll_table}"
fi
datasets="${DATASETS:-nottingham jsb musedata piano-midi}"
models="${MODELS:-vrnn}" bounds="${BOUNDS:-elbo iwae fivo}"
jobs="${JOBS:-2}" threads="${THREADS:-1}" extra="${EXTRA:-}"

data_file() { # dataset -> the reference's file name in $PIANOROLL_DIR
    case "$1" in
    piano-midi) echo "$PIANOROLL_DIR/piano-midi.de.pkl" ;;
    *) echo "$PIANOROLL_DIR/$1.pkl" ;;
    esac
}

run_one() { # dataset model bound
    local ds="$1" m="$2" b="$3" dir="$out/$1/$2_$3"
    local common=(--config "examples/$ds.ini" --dataset_path="$(data_file "$ds")" --model="$m"
        --bound="$b" --threads="$threads" --logdir="$dir")
    mkdir -p "$dir"
    if [ ! -f "$dir/train.done" ]; then
        echo "fivo ${common[*]} $extra" >"$dir/command.txt"
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e %U %S" -a -o "$dir/time.txt" "$fivo" "${common[@]}" $extra \
            >>"$dir/train.log" 2>&1 || {
            echo "pianoroll_table: $ds $m/$b training failed or stopped, see $dir/train.log" >&2
            return 1
        }
        touch "$dir/train.done"
    fi
    # A bound beyond elbo/iwae/fivo (fivo-aux, fivo-aux-td, sixo) is also
    # evaluated as itself: its twisted log p-hat is a bound too.
    local evals="elbo,iwae,fivo"
    case "$b" in elbo | iwae | fivo) ;; *) evals="$evals,$b" ;; esac
    for k in 4 16; do
        [ -f "$dir/eval$k.done" ] && [ -f "$dir/eval$k.bounds" ] && [ "$(cat "$dir/eval$k.bounds")" = "$evals" ] && continue
        # The run's own settings (its config.ini: recipe, flags and EXTRA), so
        # the model evaluated is the one trained.
        /usr/bin/time -f "%e %U %S" -a -o "$dir/eval_time.txt" "$fivo" --config "$dir/config.ini" \
            --logdir="$dir" --threads="$threads" --mode=eval --split=test \
            --checkpoint="$dir/best.fivo" --num_samples="$k" --eval_bounds="$evals" \
            >"$dir/eval$k.log" 2>&1 || {
            echo "pianoroll_table: $ds $m/$b eval at $k particles failed, see $dir/eval$k.log" >&2
            return 1
        }
        echo "$evals" >"$dir/eval$k.bounds"
        touch "$dir/eval$k.done"
    done
}

fail=0
if [ "$table_only" = 0 ]; then
    fivo="$build/bin/fivo"
    [ -x "$fivo" ] || { echo "pianoroll_table: build $fivo first" >&2; exit 1; }
    : "${PIANOROLL_DIR:?set PIANOROLL_DIR (scripts/download_pianorolls.sh DIR writes it)}"
    for ds in $datasets; do
        [ -f "examples/$ds.ini" ] || { echo "pianoroll_table: no recipe examples/$ds.ini" >&2; exit 1; }
        [ -f "$(data_file "$ds")" ] || { echo "pianoroll_table: no $(data_file "$ds")" >&2; exit 1; }
    done
    mkdir -p "$out"
    pids=()
    for ds in $datasets; do
        for m in $models; do
            for b in $bounds; do
                while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
                run_one "$ds" "$m" "$b" &
                pids+=($!)
            done
        done
    done
    for p in "${pids[@]}"; do wait "$p" || fail=1; done
fi

python3 scripts/pianoroll_table.py "$out" $datasets
exit $fail
