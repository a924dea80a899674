#pragma once
// chatd-bench's parent process: forks the generator processes, starts them together once every
// one has finished connecting, prints a progress line every second, enforces the hard deadline,
// merges their results and prints the summary.

#include "bench/chatd_bench/options.h"

namespace chatd::bench {

// Runs the whole benchmark; returns the exit status (0 completed, 1 could not complete).
int run_benchmark(const options& o);

}  // namespace chatd::bench
