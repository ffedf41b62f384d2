#!/usr/bin/env bash
# `meson install` into a scratch directory, then check that it holds the
# headers, both libraries (the shared one with soname libxbuf.so.MAJOR) and
# xbuf.pc, and that a program builds against them through pkg-config and
# runs, linked dynamically and statically.
set -euo pipefail
build=${1:?usage: install_check.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$(cd "$build" && pwd)/install-check
rm -rf "$dest"
meson install -C "$build" --destdir "$dest" --quiet

fail() { echo "install_check: $*"; exit 1; }
pc=$(find "$dest" -name xbuf.pc | head -1)
[ -n "$pc" ] || fail "xbuf.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
for file in "$libdir/libxbuf.a" "$libdir/libxbuf.so"; do
    [ -e "$file" ] || fail "missing $file"
done
soname=$(readelf -d "$libdir/libxbuf.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libxbuf.so.0" ] || fail "soname is '$soname', expected libxbuf.so.0"
for header in xbuf.h xbuf/base.h xbuf/protocol.h xbuf/format.h xbuf/copy.h xbuf/mview.h \
              xbuf/conformance.h xbuf/dlpack.h xbuf/arrow.h xbuf/numpy.h; do
    [ -n "$(find "$dest" -path "*/include/$header")" ] || fail "missing header $header"
done

export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_LIBDIR="$(dirname "$pc")"
cflags=$(pkg-config --cflags xbuf)
libs=$(pkg-config --libs xbuf)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -Wall -Werror $cflags "$root/tests/install/consumer.c" $libs -o "$work/dynamic"
LD_LIBRARY_PATH="$libdir" "$work/dynamic"
# ldd's output first: `ldd | grep -q` under pipefail fails when grep stops
# reading early and ldd gets SIGPIPE.
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$work/dynamic")
grep -q "$libdir/libxbuf.so.0" <<<"$loaded" || fail "dynamic consumer did not load the installed library"
cc -std=c11 -Wall -Werror $cflags "$root/tests/install/consumer.c" \
    -L"$libdir" -Wl,-Bstatic -lxbuf -Wl,-Bdynamic -o "$work/static"
"$work/static"
if ldd "$work/static" | grep -q libxbuf; then fail "static consumer links libxbuf.so"; fi
echo "install_check: headers, libxbuf.so ($soname), libxbuf.a and xbuf.pc installed; consumers build and run"
