#!/bin/sh
# Fails when the shared library exports a symbol outside the public xbuf_
# namespace: the build hides everything by default, and only XBUF_API
# functions may escape.
lib="$1"
[ -f "$lib" ] || { echo "check_symbols: no library at '$lib'"; exit 2; }
symbols=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sed 's/@.*//')
[ -n "$symbols" ] || { echo "check_symbols: $lib exports nothing"; exit 1; }
stray=$(printf '%s\n' "$symbols" | grep -v '^xbuf_' | grep -v -E '^(_init|_fini)$')
count=$(printf '%s\n' "$symbols" | grep -c '^xbuf_')
if [ -n "$stray" ]; then
    echo "check_symbols: $lib exports symbols outside the xbuf_ namespace:"
    printf '  %s\n' $stray
    exit 1
fi
echo "check_symbols: $count exported symbols, all xbuf_"
