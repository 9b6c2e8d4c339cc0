#!/usr/bin/env bash
# Downloads the four polyphonic-music pianoroll datasets (Boulanger-Lewandowski
# et al. 2012) into DIR under the names the reference's
# bin/download_pianorolls.sh writes: piano-midi.de.pkl, nottingham.pkl,
# musedata.pkl, jsb.pkl. Unlike the reference, each file is checked before it
# gets its name: it must parse with fivo's own pickle reader (fivo
# --mode=inspect) as 88-note pianorolls with the canonical train/valid/test
# sequence counts. A failed download, a truncated file, an HTML error page or
# another dataset is refused by name and removed; nothing half-done is left
# in DIR under a final name (a file already there is left as it was).
#
#   scripts/download_pianorolls.sh DIR
#   PIANOROLL_URL=file:///mirror scripts/download_pianorolls.sh DIR   # a mirror or a local copy
#
# Environment: PIANOROLL_URL (base URL; default the original authors' site),
# FIVO (the fivo executable; default build/bin/fivo of this checkout, else
# fivo on PATH), CURL (default curl). Exit 0 when all four are in place,
# 1 when any was refused (the others are still written), 2 on bad usage.
set -uo pipefail

prog=download_pianorolls.sh
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $prog DIR   (PIANOROLL_URL=base URL, optional)" >&2
    exit 2
fi
dir=$1
base=${PIANOROLL_URL:-http://www-etud.iro.umontreal.ca/~boulanni}
base=${base%/}
curl=${CURL:-curl}

here=$(cd "$(dirname "$0")/.." && pwd)
fivo=${FIVO:-}
if [ -z "$fivo" ]; then
    if [ -x "$here/build/bin/fivo" ]; then
        fivo=$here/build/bin/fivo
    else
        fivo=$(command -v fivo || true)
    fi
fi
if [ -z "$fivo" ] || [ ! -x "$fivo" ]; then
    echo "$prog: error: no fivo executable to check the files with (build it, or set FIVO=path)" >&2
    exit 2
fi
if ! mkdir -p "$dir" || [ ! -w "$dir" ]; then
    echo "$prog: error: $dir: cannot create or write the folder" >&2
    exit 2
fi

# local name | remote name | train/valid/test sequences | dataset
table="piano-midi.de.pkl|Piano-midi.de.pickle|87/12/25|Piano-midi.de
nottingham.pkl|Nottingham.pickle|694/173/170|Nottingham
musedata.pkl|MuseData.pickle|524/135/124|MuseData
jsb.pkl|JSB%20Chorales.pickle|229/76/77|JSB Chorales"

# Temporary files live in DIR (so the final rename is atomic) under hidden
# names ending in .part; the trap removes them on any exit.
part=""
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fivo_download_XXXXXX") || exit 2
# shellcheck disable=SC2317  # run by the trap
cleanup() {
    if [ -n "$part" ]; then rm -f "$part"; fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The train/valid/test counts of FILE as fivo reads it ("694/173/170"), or a
# reason on stderr and status 1.
counts_of() {
    local file=$1 log=$scratch/inspect
    rm -rf "$log"
    if ! "$fivo" --mode=inspect --dataset_type=pianoroll --dataset_path="$file" \
        --logdir="$log" >"$scratch/out" 2>"$scratch/err"; then
        sed -n 's/^fivo: error: //p' "$scratch/err" | head -n 1 >&2
        return 1
    fi
    local s n out=""
    for s in train valid test; do
        n=$(grep -o "\"split\":\"$s\",\"num_sequences\":[0-9]*" "$log/metrics.jsonl" 2>/dev/null |
            head -n 1 | sed 's/.*://')
        if [ -z "$n" ]; then
            echo "no $s split" >&2
            return 1
        fi
        if ! grep -q "\"split\":\"$s\",\"num_sequences\":[0-9]*,\"dim\":88," "$log/metrics.jsonl"; then
            echo "the $s split is not 88-note pianorolls" >&2
            return 1
        fi
        out=${out:+$out/}$n
    done
    echo "$out"
}

echo "Downloading the pianoroll datasets from $base into $dir"
failed=0
while IFS='|' read -r name remote want label; do
    url=$base/$remote
    if ! part=$(mktemp "$dir/.$name.XXXXXX.part"); then
        echo "$prog: error: $name: cannot create a temporary file in $dir" >&2
        part=""
        failed=1
        continue
    fi
    refuse() {
        echo "$prog: error: $name ($label) from $url: $1; not written${2:+ ($2)}" >&2
        if [ -e "$dir/$name" ]; then
            echo "$prog: note: the $dir/$name already there is left as it was" >&2
        fi
        rm -f "$part"
        part=""
        failed=1
    }
    if ! "$curl" --fail --silent --show-error --location --output "$part" "$url" 2>"$scratch/curl"; then
        refuse "the download failed" "$(tr '\n' ' ' <"$scratch/curl" | sed 's/ *$//')"
        continue
    fi
    if [ ! -s "$part" ]; then
        refuse "the download is empty"
        continue
    fi
    # A pickle of protocol 2 starts with 0x80; a web server's error page with '<'.
    if head -c 64 "$part" | grep -qai '<html\|<!doctype\|<head\|<body'; then
        refuse "the server sent a web page, not a pickle"
        continue
    fi
    if ! got=$(counts_of "$part" 2>"$scratch/why"); then
        refuse "not a readable pianoroll pickle (truncated or damaged?)" "$(head -n 1 "$scratch/why")"
        continue
    fi
    if [ "$got" != "$want" ]; then
        other=""
        while IFS='|' read -r _ _ w l; do
            [ "$w" = "$got" ] && other=$l
        done <<<"$table"
        refuse "train/valid/test has $got sequences, $label has $want" \
            "${other:+it looks like $other}"
        continue
    fi
    # mktemp made it 0600; give it the mode a plain download would have.
    chmod "$(printf '%04o' $((0666 & ~$(umask))))" "$part"
    if [ -d "$dir/$name" ]; then
        refuse "$dir/$name is a folder"
        continue
    fi
    mv -f "$part" "$dir/$name" || { refuse "cannot rename into place"; continue; }
    part=""
    echo "$dir/$name: $label, $got train/valid/test sequences"
done <<<"$table"
exit $failed
