#!/usr/bin/env bash
# Install valgrind for `make valgrind` when it is missing (Debian, apt-get,
# as root or through sudo), as scripts/bootstrap.sh does for the build's
# own packages.
set -euo pipefail
command -v valgrind >/dev/null && exit 0
echo "install_valgrind: installing valgrind"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind >/dev/null
