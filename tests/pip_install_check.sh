#!/usr/bin/env bash
# `pip install .` must give a working xbuf package: build it with
# meson-python from .venv (no build isolation, so no download), install it
# into a scratch directory and import it from there -- not from the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT

"$python" -m pip install --quiet --no-build-isolation --target "$target" .
cd "$target"
PYTHONPATH="$target" "$OLDPWD/$python" - "$target" <<'PY'
import sys
import xbuf
target = sys.argv[1]
assert xbuf.__file__.startswith(target), f"imported {xbuf.__file__}, not the installed copy"
view = xbuf.View(bytearray(b"\x01\x00\x00\x00\x02\x00\x00\x00")).cast("<i")
assert view.tolist() == [1, 2], view.tolist()
assert xbuf.calcsize("T{b:a:i:b:}") == 8
print(f"pip_install_check: installed {xbuf.__version__} into {target} and imported it")
PY
