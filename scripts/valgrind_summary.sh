#!/usr/bin/env bash
# Sum up the memcheck logs of `make valgrind` (scripts/valgrind_wrapper.sh):
# how many processes of the build's programs ran under valgrind, and their
# errors and leaks in total.
#   scripts/valgrind_summary.sh LOG_DIR /abs/BUILD_DIR
set -euo pipefail
logs=${1:?usage: valgrind_summary.sh LOG_DIR BUILD_DIR}
build=${2:?usage: valgrind_summary.sh LOG_DIR BUILD_DIR}
shopt -s nullglob
files=()
for log in "$logs"/*.log; do
    grep -q -E "^==[0-9]+== Command: $build/" "$log" && files+=("$log")
done
if [ ${#files[@]} -eq 0 ]; then
    echo "valgrind_summary: no logs in $logs" >&2
    exit 1
fi
awk -v programs="$(for f in "${files[@]}"; do basename "$f" | sed 's/\.[0-9]*\.log$//'; done | sort -u | wc -l)" '
    /ERROR SUMMARY:/        { errors += $4; summaries++ }
    /definitely lost:/      { gsub(",", "", $4); definite += $4 }
    /indirectly lost:/      { gsub(",", "", $4); indirect += $4 }
    /possibly lost:/        { gsub(",", "", $4); possible += $4 }
    /total heap usage:/     { gsub(",", "", $5); allocs += $5 }
    END {
        printf "valgrind: %d processes of %d test programs, %d allocations; " \
               "%d errors; definitely lost %d bytes, indirectly lost %d, possibly lost %d\n",
               summaries, programs, allocs, errors, definite, indirect, possible
        exit errors > 0 || definite > 0 || indirect > 0
    }' "${files[@]}"
