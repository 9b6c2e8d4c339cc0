#!/bin/sh
# Lists the functions libfivo (and the SDK's two small libraries) export that
# nothing in the tree calls: no caller in another source file, no test, no
# plugin. Usage: scripts/unused_exports.sh [BUILD_DIR]   (default: build)
# Exit status 1 when any is found. Run from the source tree's top.
build=${1:-build}
status=0
for lib in "$build/core/libfivo.so" "$build/sdk/families/seqmodel/libfivo_seqmodel.so" \
           "$build/sdk/tools/conformance/libfivo_conformance.so"; do
    [ -f "$lib" ] || { echo "missing $lib (build first)" >&2; exit 2; }
    for sym in $(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^fivo_/ {print $3}'); do
        # files that name the symbol, headers aside; the definition's file counts
        # only when it also calls the symbol (two or more mentions there)
        users=$(grep -rlw --include='*.c' --include='*.cc' --include='*.h' "$sym" \
                    core host plugins bounds datasets sdk tests fuzz bench |
                grep -v '^sdk/include/\|^core/include/\|/include/fivo/' )
        n=0
        for f in $users; do
            c=$(grep -cw "$sym" "$f")
            if grep -q "^[a-z].*\b$sym(" "$f" && [ "$c" -lt 2 ]; then continue; fi
            n=$((n + 1))
        done
        # called through a macro of a header (fivo_log_info -> fivo_log_message)
        if [ "$n" -eq 0 ]; then
            for m in $(grep -rhoE "#define (fivo|FIVO)_[a-zA-Z0-9_]+\(.*\b$sym\b" sdk core/include |
                       sed -E 's/#define ([a-zA-Z0-9_]+).*/\1/'); do
                grep -rqw --include='*.c' --include='*.cc' "$m" core host plugins bounds datasets \
                    sdk tests fuzz bench && n=1
            done
        fi
        if [ "$n" -eq 0 ]; then
            echo "$(basename "$lib"): $sym has no caller or test"
            status=1
        fi
    done
done
exit $status
