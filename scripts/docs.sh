#!/usr/bin/env bash
# The docs' generated regions and links.
#   scripts/docs.sh update [GEN]  rewrite every generated region in README.md and docs/*.md
#   scripts/docs.sh check [GEN]   fail, showing the diff, when a region differs from GEN's output
#   scripts/docs.sh links         fail when a relative link or #anchor points nowhere
# GEN is the generator built from the host's flag rows (host/man/gen_flag_docs.c;
# default build/host/fivo_gen_flag_docs). A region is
#   <!-- BEGIN NAME (generated ...) -->  ...  <!-- END NAME -->
# and holds the output of `GEN NAME`. `cmake --build build --target fivo_docs`
# builds GEN and runs update; ctest runs check (docs_generated) and links (docs_links).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
gen=${2:-build/host/fivo_gen_flag_docs}

if [ "$what" = links ]; then
    exec python3 scripts/check_doc_links.py README.md docs
fi
if [ "$what" != update ] && [ "$what" != check ]; then
    echo "usage: scripts/docs.sh update|check [GEN] | links" >&2
    exit 2
fi
if [ ! -x "$gen" ]; then
    echo "docs.sh: $gen not found; build it with: cmake --build build --target fivo_gen_flag_docs" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
seen=""
for f in README.md docs/*.md; do
    [ -f "$f" ] || continue
    names=$(sed -n 's/^<!-- BEGIN \([a-z_]*\) .*/\1/p' "$f")
    [ -n "$names" ] || continue
    seen="$seen $names"
    for n in $names; do
        if ! "$gen" "$n" > "$tmp/$n.md"; then
            echo "docs.sh: $f: '$gen $n' failed" >&2
            exit 1
        fi
    done
    # Keep everything outside the regions; inside, a blank line, the
    # generator's output, a blank line.
    if ! awk -v dir="$tmp" -v file="$f" '
        /^<!-- BEGIN [a-z_]+ / {
            print; name = $3; inside = 1; print ""
            src = dir "/" name ".md"
            while ((getline line < src) > 0) print line
            close(src); print ""; next
        }
        inside && $0 == "<!-- END " name " -->" { inside = 0; print; next }
        inside { next }
        { print }
        END {
            if (inside) { print file ": region " name " has no <!-- END " name " -->" > "/dev/stderr"; exit 1 }
        }' "$f" > "$tmp/new"; then
        exit 1
    fi
    if ! cmp -s "$f" "$tmp/new"; then
        if [ "$what" = update ]; then
            cp "$tmp/new" "$f"
            echo "docs.sh: rewrote the generated regions of $f"
        else
            echo "docs.sh: $f: a generated region differs from the flag rows (host/flags.c);" \
                 "run scripts/docs.sh update (or cmake --build build --target fivo_docs):" >&2
            diff -u "$f" "$tmp/new" >&2 || true
            status=1
        fi
    fi
done
# The flag table must exist somewhere: deleting its markers is drift too.
for n in flags modes; do
    case " $(echo $seen) " in
        *" $n "*) ;;
        *) echo "docs.sh: no <!-- BEGIN $n ... --> region in README.md or docs/*.md" >&2; status=1 ;;
    esac
done
exit $status
