#!/usr/bin/env bash
# Which allocation sites of the library do the C tests' allocation-failure
# sweeps reach?  Builds the library and the C suite with gcov in BUILD_DIR
# (default /tmp/xbuf-alloc-coverage; never one of make's build dirs), runs
# the C suite, and prints one row per call of xbuf_malloc, xbuf_malloc_array
# or xbuf_realloc in src/*.c: how often the call ran, and how often its
# NULL check took the failure branch.  A site whose failure branch never ran
# is one no sweep covers; the script then exits 1.
#
#   scripts/alloc_coverage.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-/tmp/xbuf-alloc-coverage}
meson=.venv/bin/meson

if [ ! -f "$build/build.ninja" ]; then
    "$meson" setup "$build" --buildtype=debug -Db_coverage=true -Dbench=false \
        -Dpython=disabled >/dev/null
fi
"$meson" compile -C "$build" >/dev/null
find "$build" -name '*.gcda' -delete
# Criterion's workers must return from main for gcov to write its data.
CRITERION_NO_EARLY_EXIT=1 THREAD_VIEWS_ITERATIONS=50 \
    "$meson" test -C "$build" --num-processes 2 >/dev/null || true

objdir=$(find "$build/src" -maxdepth 1 -type d -name 'libxbuf.so*.p' | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && for gcda in "$objdir"/*.gcda; do gcov -b -c -o "$objdir" "$gcda" >/dev/null 2>&1; done)

uncovered=0
printf '%-22s %-44s %10s %10s\n' "site" "allocation" "calls" "failures"
for src in "$root"/src/*.c; do
    name=$(basename "$src")
    [ "$name" = alloc.c ] && continue
    gcov_file="$out/$name.gcov"
    { grep -n -E 'xbuf_(malloc|malloc_array|realloc)\(' "$src" || true; } |
    while IFS=: read -r line text; do
        # The first conditional branch at or after the call is its NULL
        # check; its first branch (the fall-through into the error path)
        # counts the failures.
        result=$(awk -v L="$line" '
            /^ *[-#=0-9]+\*?: *[0-9]+:/ { split($0, f, ":"); n = f[2] + 0
                if (n == L) { c = f[1]; gsub(/[ *]/, "", c); calls = c }
                active = (n >= L && n <= L + 6); next }
            active && !done && /^branch +0/ { fails = ($3 == "taken") ? $4 : 0; done = 1 }
            END { printf "%s %s\n", calls == "" ? "?" : calls, done ? fails : "?" }' "$gcov_file")
        calls=${result% *}
        fails=${result#* }
        text=$(echo "$text" | sed -E 's/^ +//; s/ *=.*(xbuf_[a-z_]+)\(.*/ = \1(...)/')
        printf '%-22s %-44s %10s %10s\n' "$name:$line" "${text:0:44}" "$calls" "$fails"
        if [ "$fails" = 0 ] || [ "$fails" = "?" ]; then
            echo "  ^ no sweep makes this allocation fail"
            touch "$out/uncovered"
        fi
    done
done
[ ! -e "$out/uncovered" ]
