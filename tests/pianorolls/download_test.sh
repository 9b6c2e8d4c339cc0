#!/usr/bin/env bash
# Tests of scripts/download_pianorolls.sh, offline: a file:// base or a
# python3 http.server on 127.0.0.1 (a free port, started and stopped here)
# serving pickles this test writes with the canonical split counts of
# 2-step sequences. One case per run:
#   download_test.sh FIVO CASE    CASE: good|truncated|html|swapped|not_found|http
set -uo pipefail
fivo=$1
case_=$2
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../scripts/download_pianorolls.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fivo_dltest_XXXXXX")
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL ($case_): $*" >&2
    [ -f "$tmp/log" ] && sed 's/^/  | /' "$tmp/log" >&2
    exit 1
}

srv=$tmp/srv
out=$tmp/out
mkdir -p "$srv" "$out"
make() { python3 "$here/make_pianorolls.py" "$srv/$1" "$2" || fail "cannot write $1"; }
make Piano-midi.de.pickle 87/12/25
make Nottingham.pickle 694/173/170
make MuseData.pickle 524/135/124
make "JSB Chorales.pickle" 229/76/77
base=file://$srv

# Runs the script; its status in $rc, its output in $tmp/log.
download() {
    PIANOROLL_URL=$base FIVO=$fivo bash "$script" "$out" >"$tmp/log" 2>&1
    rc=$?
}
expect_only() { # the local names that must be there, nothing else
    local want=" $* " f got=""
    for f in piano-midi.de.pkl nottingham.pkl musedata.pkl jsb.pkl; do
        if [ -e "$out/$f" ]; then
            got="$got $f"
            case $want in *" $f "*) ;; *) fail "$f is in DIR though its download was refused" ;; esac
        else
            case $want in *" $f "*) fail "$f is missing" ;; esac
        fi
    done
    for f in "$out"/* "$out"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in
        piano-midi.de.pkl | nottingham.pkl | musedata.pkl | jsb.pkl) ;;
        *) fail "left in DIR: ${f##*/}" ;;
        esac
    done
}
expect_said() { grep -q -- "$1" "$tmp/log" || fail "the output does not say '$1'"; }
start_server() {
    python3 -u -m http.server --bind 127.0.0.1 --directory "$srv" 0 >"$tmp/server" 2>&1 &
    server=$!
    local port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$tmp/server" | head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || fail "the http server did not start: $(cat "$tmp/server")"
    base=http://127.0.0.1:$port
}

case $case_ in
good)
    download
    [ "$rc" = 0 ] || fail "status $rc, want 0"
    expect_only piano-midi.de.pkl nottingham.pkl musedata.pkl jsb.pkl
    cmp -s "$srv/JSB Chorales.pickle" "$out/jsb.pkl" || fail "jsb.pkl is not the served file"
    expect_said "jsb.pkl: JSB Chorales, 229/76/77"
    ;;
truncated)
    head -c 9000 "$srv/MuseData.pickle" >"$tmp/t" && mv "$tmp/t" "$srv/MuseData.pickle"
    download
    [ "$rc" = 1 ] || fail "status $rc, want 1"
    expect_only piano-midi.de.pkl nottingham.pkl jsb.pkl
    expect_said "musedata.pkl (MuseData).*not a readable pianoroll pickle.*truncated"
    ;;
html)
    printf '<!DOCTYPE html>\n<html><head><title>Moved</title></head><body>gone</body></html>\n' \
        >"$srv/JSB Chorales.pickle"
    download
    [ "$rc" = 1 ] || fail "status $rc, want 1"
    expect_only piano-midi.de.pkl nottingham.pkl musedata.pkl
    expect_said "jsb.pkl (JSB Chorales).*web page"
    ;;
swapped)
    # Nottingham served as JSB.
    cp "$srv/Nottingham.pickle" "$srv/JSB Chorales.pickle"
    download
    [ "$rc" = 1 ] || fail "status $rc, want 1"
    expect_only piano-midi.de.pkl nottingham.pkl musedata.pkl
    expect_said "jsb.pkl (JSB Chorales).*694/173/170 sequences, JSB Chorales has 229/76/77.*looks like Nottingham"
    ;;
not_found)
    rm "$srv/Piano-midi.de.pickle"
    start_server
    download
    [ "$rc" = 1 ] || fail "status $rc, want 1"
    expect_only nottingham.pkl musedata.pkl jsb.pkl
    expect_said "piano-midi.de.pkl (Piano-midi.de) from http://127.0.0.1:[0-9]*/Piano-midi.de.pickle: the download failed"
    expect_said "404"
    ;;
http)
    start_server
    download
    [ "$rc" = 0 ] || fail "status $rc, want 0"
    expect_only piano-midi.de.pkl nottingham.pkl musedata.pkl jsb.pkl
    grep -q 'GET /JSB%20Chorales.pickle' "$tmp/server" || fail "the server did not see the JSB request"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "ok ($case_)"
