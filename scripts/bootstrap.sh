#!/usr/bin/env bash
# Set up a fresh machine for building and testing xbuf, and do nothing on a
# machine that is already set up:
#   1. Debian packages the build needs (Criterion for the C tests), with
#      apt-get, only when they are missing;
#   2. a virtual environment in .venv with requirements-dev.txt from PyPI,
#      reinstalled only when requirements-dev.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages=(libcriterion-dev pkg-config)

missing=()
for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
stamp=.venv/.requirements-installed
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || ! cmp -s requirements-dev.txt "$stamp"; then
    echo "bootstrap: installing requirements-dev.txt into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    cp requirements-dev.txt "$stamp"
fi
