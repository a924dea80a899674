#!/usr/bin/env bash
# The README's test command (and CI's, through .ci/run): install the dependencies, then
#   1. release:  build chatd (Release) and run every test through CTest (unit + integration);
#   2. sanitize: build again with -DCHATD_SANITIZE=ON (ASan + UBSan) and run the tests labelled
#                "sanitize" (unit tests, the Redis bus, the chat/polling/protocol/process suites)
#                with sanitizer reports fatal: a report in a doctest binary fails it by exit
#                status; one in chatd (master or a forked worker) fails the test through the
#                harness, which watches every spawned process's output (tests/integration/lib);
#   3. fuzz:     build the libFuzzer targets with clang and run each for a bounded time from its
#                seed corpus (tests/fuzz/run.sh; CHATD_FUZZ_SECONDS per target, default 25).
# Every phase runs even if an earlier one failed; exits non-zero if any failed. About 15 minutes
# on 2 cores from a clean clone.
# Build directories: CHATD_BUILD_DIR (default <repo>/build), CHATD_SANITIZE_BUILD_DIR
# (<repo>/build-asan), CHATD_FUZZ_BUILD_DIR (<repo>/build-fuzz). CHATD_PHASES picks phases
# (default "release sanitize fuzz").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CHATD_BUILD_DIR:-$root/build}
build_asan=${CHATD_SANITIZE_BUILD_DIR:-$root/build-asan}
build_fuzz=${CHATD_FUZZ_BUILD_DIR:-$root/build-fuzz}
phases=${CHATD_PHASES:-release sanitize fuzz}

bash "$root/tests/install-deps.sh"

# The integration tests open many sockets; use the whole hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Each phase is one && chain: it runs as an `if` condition, where set -e does not apply.
phase_release() {
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
  cmake --build "$build" -j2 &&
  ctest --test-dir "$build" --output-on-failure --no-tests=error
}

phase_sanitize() {
  cmake -S "$root" -B "$build_asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHATD_SANITIZE=ON &&
  cmake --build "$build_asan" -j2 &&
  # halt_on_error: the first report ends the process; abort_on_error=0: it exits with a status
  # (1) instead of dumping core; detect_leaks: LeakSanitizer at exit, which for a worker is its
  # _exit (ASan checks there too). UBSan is built with -fno-sanitize-recover.
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$build_asan" --output-on-failure --no-tests=error -L sanitize
}

phase_fuzz() {
  CXX=clang++ cmake -S "$root" -B "$build_fuzz" -DCMAKE_BUILD_TYPE=Release -DCHATD_FUZZ=ON &&
  cmake --build "$build_fuzz" -j2 --target fuzz &&
  bash "$root/tests/fuzz/run.sh" "$build_fuzz" "${CHATD_FUZZ_SECONDS:-25}"
}

started=$SECONDS
summary=()
failed=()
for phase in $phases; do
  t0=$SECONDS
  echo "=== run-all: phase $phase ==="
  if "phase_$phase"; then
    result=passed
  else
    result=FAILED
    failed+=("$phase")
  fi
  summary+=("$(printf '%-9s %-6s %4d s' "$phase" "$result" $((SECONDS - t0)))")
done

echo "=== run-all: summary ==="
printf '  %s\n' "${summary[@]}"
echo "  total $((SECONDS - started)) s (after install-deps)"
if ((${#failed[@]})); then
  echo "run-all: FAILED: ${failed[*]}" >&2
  exit 1
fi
