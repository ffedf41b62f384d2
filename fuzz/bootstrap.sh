#!/usr/bin/env bash
# Install what `make fuzz` needs, only when it is missing: clang, and the
# compiler-rt package that carries libFuzzer's runtime (libclang_rt.fuzzer)
# and the sanitizer runtimes.  Debian 12 splits them: `clang` alone links
# nothing with -fsanitize=fuzzer.
set -euo pipefail

packages=(clang libclang-rt-14-dev)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fuzz/bootstrap.sh: installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
