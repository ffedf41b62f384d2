#!/usr/bin/env bash
# meson test --wrapper for `make valgrind`: runs one test under valgrind's
# memcheck and fails it when valgrind found anything in any process of the
# build's own programs.
#
#   VALGRIND_LOGS=DIR VALGRIND_BUILD=/abs/BUILD_DIR scripts/valgrind_wrapper.sh PROGRAM ARGS...
#
# Criterion runs each test in a child process it starts by fork + exec of
# the test program (BoxFort), so valgrind must follow children
# (--trace-children=yes); system programs that test scripts call (sh, nm,
# grep, ...) are not followed.  Every process writes its own log
# (DIR/NAME.PID.log); the wrapper then reads the logs of every process
# whose program lies in BUILD_DIR and fails on a non-zero error count --
# leaks definitely or indirectly lost count as errors
# (--errors-for-leak-kinds) -- because a Criterion worker's exit status
# alone would not name the problem, and a test script ignores it.
# CRITERION_NO_EARLY_EXIT lets each worker return from main, so that the
# leak check sees the test's memory as the test left it.
#
# Valgrind computes x87 `long double` arithmetic at double precision, so
# tests that check long double results (LDBL_MAX, 64-bit integers compared
# exactly with long doubles, half/float rounding done through long double)
# fail under it although the code is right; the normal and sanitizer suites
# check their verdicts.  They still run here, under valgrind, with
# --always-succeed: their memory is checked, their assertions are not.
set -uo pipefail
logs=${VALGRIND_LOGS:?set VALGRIND_LOGS to a directory for the logs}
build=${VALGRIND_BUILD:?set VALGRIND_BUILD to the build directory}
case "$build" in
/*) ;;
*) echo "valgrind_wrapper: VALGRIND_BUILD must be an absolute path" >&2; exit 2 ;;
esac
mkdir -p "$logs"
program=$(basename "$1")
# The logs are named after the run, not only the program: meson runs
# test_copy twice at once (once as test_copy_baseline, without the wide
# kernels), and the two runs must not clear or read each other's logs.
name=$program${XBUF_DISABLE_CPU_FEATURES:+-without-${XBUF_DISABLE_CPU_FEATURES//,/-}}
export CRITERION_NO_EARLY_EXIT=1

long_double_tests() {
    case "$1" in
    test_codec) echo 'complex/overflow_in_either_part_writes_nothing|float/known_patterns|float/rounding_and_overflow|half/every_value_reads_exactly_and_writes_back|half/known_patterns' ;;
    test_compare) echo 'values/int64_against_floats_is_exact|values/integers_against_fractions_and_infinities|values/long_double_padding_is_ignored' ;;
    test_copy) echo 'convert/every_pair_of_numeric_formats|convert/native_sizes_and_other_order_marks' ;;
    esac
}

# A test script's own shell is traced too (valgrind cannot skip the first
# program); its leaks are not ours, so its exit status must stay the
# script's.  The build's programs exit 1 on any finding, which Criterion
# reports against the test that had it.
exitcode=1
case "$1" in "$build"/*) ;; *) exitcode=0 ;; esac

memcheck() {
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=$exitcode \
        --track-origins=yes --num-callers=30 \
        --trace-children=yes --trace-children-skip='/usr/*,/bin/*,/sbin/*,/etc/*' \
        --suppressions="$(dirname "$0")/valgrind.supp" \
        --log-file="$logs/$name.%p.log" "$@"
}

rm -f "$logs/$name".*.log
skip=$(long_double_tests "$program")
if [ -n "$skip" ]; then
    memcheck "$@" --filter "!(@($skip))"
    rc=$?
    echo "valgrind_wrapper: $name: verdicts not checked (long double): ${skip//|/ }"
    memcheck "$@" --filter "@($skip)" --always-succeed >/dev/null 2>&1
else
    memcheck "$@"
    rc=$?
fi

bad=0
checked=0
for log in "$logs/$name".*.log; do
    [ -e "$log" ] || continue
    # Only the build's own programs: "==PID== Command: /path/to/program args"
    grep -q -E "^==[0-9]+== Command: $build/" "$log" || continue
    checked=$((checked + 1))
    if ! grep -q -E "^==[0-9]+== ERROR SUMMARY: 0 errors" "$log"; then
        bad=$((bad + 1))
        echo "valgrind_wrapper: $(basename "$log"):"
        cat "$log"
    fi
done
echo "valgrind_wrapper: $name: $checked process(es) checked, $bad with errors or leaks"
[ "$bad" -eq 0 ] || exit 1
exit $rc
