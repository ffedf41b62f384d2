#!/usr/bin/env bash
# Make the checkout's Python package importable from .venv as it is built:
# link the extension meson built into python/xbuf/ and put python/ on the
# venv's path with a .pth file, so `import xbuf` in tests, benchmarks and
# examples always means this tree (no install step to forget).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

shopt -s nullglob
extensions=("$build"/python/_xbuf.*.so)
if [ ${#extensions[@]} -ne 1 ]; then
    echo "link_python: expected one extension in $build/python, found ${#extensions[@]}" >&2
    exit 1
fi
rm -f python/xbuf/_xbuf.*.so
ln -s "../../${extensions[0]}" "python/xbuf/$(basename "${extensions[0]}")"

site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pth="$site/xbuf-checkout.pth"
echo "$PWD/python" > "$pth.tmp" && mv "$pth.tmp" "$pth"
