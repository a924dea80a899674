#!/usr/bin/env bash
# The README's test command: install the dependencies, build chatd (Release) and run every test
# (doctest unit tests and the integration tests, through CTest). Exits non-zero on any failure.
# CHATD_BUILD_DIR picks another build directory (default: <repo>/build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CHATD_BUILD_DIR:-$root/build}

bash "$root/tests/install-deps.sh"

# The integration tests open many sockets; use the whole hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure --no-tests=error
