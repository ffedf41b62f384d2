#!/usr/bin/env bash
# Run the Python test suite against an AddressSanitizer + UBSan build of the
# extension (make test-asan-python).
#
#   scripts/asan_python.sh BUILD_DIR [pytest arguments...]
#
# BUILD_DIR was configured with -Db_sanitize=address,undefined.  The
# interpreter itself is not instrumented, so the sanitizer runtimes are
# preloaded (ASan must come first in the process), and LeakSanitizer is
# off: CPython, NumPy and torch keep memory until exit on purpose, and
# LSan would report all of it.  Everything else halts on the first report,
# and the run fails when any report appears in the output -- also one
# from a subprocess a test started (the example interop test) -- since a
# report inside a test that expected an exception could otherwise pass.
#
# `import xbuf` must mean the instrumented extension: the package is
# staged in BUILD_DIR/pkg (the sources of python/xbuf plus the ASan
# _xbuf.so) and put first on PYTHONPATH, ahead of the checkout's .pth
# entry.  The ctypes-based tests load BUILD_DIR's libxbuf.so (XBUF_LIB), the
# interop example test BUILD_DIR's sample module (XBUF_BUILD).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/asan_python.sh BUILD_DIR [pytest args]}
shift

shopt -s nullglob
extensions=("$build"/python/_xbuf.*.so)
if [ ${#extensions[@]} -ne 1 ]; then
    echo "asan_python: expected one extension in $build/python, found ${#extensions[@]}" >&2
    exit 1
fi
pkg="$build/pkg/xbuf"
rm -rf "$build/pkg"
mkdir -p "$pkg"
for f in python/xbuf/*; do
    case "$f" in *.so) continue ;; esac
    ln -s "$PWD/$f" "$pkg/"
done
ln -s "$PWD/${extensions[0]}" "$pkg/"

cc=${CC:-gcc}
libasan=$($cc -print-file-name=libasan.so)
libubsan=$($cc -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
    if [ ! -e "$lib" ]; then
        echo "asan_python: $cc does not know where $(basename "$lib") is" >&2
        exit 1
    fi
done

python=.venv/bin/python
# ASan writes its reports to files, one per process (also for subprocesses
# that tests start).  UBSan ignores log_path when it runs beside ASan and
# writes to stderr, which pytest's default fd-level capture would take along
# when the process halts: so pytest captures at the sys level only, C-level
# stderr reaches the output, and the output is searched afterwards.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export LD_PRELOAD="$libasan:$libubsan"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=99:verify_asan_link_order=0:log_path=$logs/asan${ASAN_OPTIONS_EXTRA:+:$ASAN_OPTIONS_EXTRA}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98"
export PYTHONPATH="$PWD/$build/pkg"
export XBUF_LIB="$PWD/$build/src/libxbuf.so"
export XBUF_BUILD="$PWD/$build"

# Sanity: the staged, instrumented extension is the one imported.
"$python" -c '
import sys, xbuf._xbuf as x
if not x.__file__.startswith(sys.argv[1]):
    sys.exit(f"asan_python: imported {x.__file__}, not the build in {sys.argv[1]}")
' "$PWD/$build/pkg"

set +e
"$python" -m pytest -p no:cacheprovider --capture=sys "${@:-tests/python}" 2>&1 |
    tee "$logs/output"
status=${PIPESTATUS[0]}
set -e
reports=("$logs"/asan.*)
if [ ${#reports[@]} -gt 0 ]; then
    cat "${reports[@]}"
    echo "asan_python: ${#reports[@]} AddressSanitizer report(s), above"
    exit 1
fi
if grep -q -E 'runtime error:|ERROR: (Address|UndefinedBehavior)Sanitizer' "$logs/output"; then
    echo "asan_python: a sanitizer report is in the output above"
    exit 1
fi
case $status in
0) echo "asan_python: no sanitizer reports" ;;
98) echo "asan_python: UBSan halted the run (exit 98)"; exit 1 ;;
99) echo "asan_python: ASan halted the run (exit 99)"; exit 1 ;;
*) echo "asan_python: pytest exited with $status"; exit "$status" ;;
esac
