#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, each from its committed seed corpus
# (tests/fuzz/corpus/<target>/). New inputs go to a scratch corpus under the build directory, never
# into the tree; a crash, sanitizer report, leak or timeout is saved there as
# <build>/fuzz-artifacts/<target>/crash-* (etc.) and makes this script exit non-zero.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]   (default 25; CI uses the default)
# BUILD_DIR is a build configured with CXX=clang++ -DCHATD_FUZZ=ON and built with --target fuzz.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]}
seconds=${2:-25}
targets=(fuzz_ws_parser fuzz_sio_parser fuzz_bus_wire fuzz_bus_request fuzz_sharded_wire fuzz_http_request
         fuzz_eio_payload fuzz_config fuzz_cluster_slot)

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  [[ -x "$bin" ]] || { echo "fuzz: $bin not built" >&2; exit 1; }
  work="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $t for ${seconds} s (seeds: tests/fuzz/corpus/$t)"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: bounded memory per input.
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" "$here/corpus/$t" \
      >"$build/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    echo "fuzz: $t FAILED; last lines of $build/fuzz-$t.log:" >&2
    tail -n 60 "$build/fuzz-$t.log" >&2
  else
    grep -E '^Done [0-9]+ runs' "$build/fuzz-$t.log" | sed "s/^/fuzz: $t: /"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (inputs in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a finding"
