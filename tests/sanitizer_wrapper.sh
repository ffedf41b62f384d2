#!/usr/bin/env bash
# Runs one test program of the sanitizer build and fails it when a sanitizer
# reported anything.  Needed because Criterion's forked workers exit without
# running LeakSanitizer unless CRITERION_NO_EARLY_EXIT is set, and even then
# a leak report does not change the worker's verdict.
export CRITERION_NO_EARLY_EXIT=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
rc=$?
cat "$out"
if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$out"; then
    echo "sanitizer_wrapper: a sanitizer reported an error in $(basename "$1")"
    exit 1
fi
exit $rc
