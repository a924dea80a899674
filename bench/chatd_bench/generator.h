#pragma once
// One chatd-bench generator process: its share of the clients on one libuv loop. It connects
// them with bounded concurrency, tells the parent when its connect phase is over, and on `go`
// runs the scenario (fan-out sending and counting, idle hold, or nothing for a storm), reports
// `final` when counting stops, and closes every connection when the parent says `close` (or the
// parent goes away).

#include "bench/chatd_bench/options.h"

#include <cstdint>

namespace chatd::bench {

// Clients belong to process `proc` when index % procs == proc, so every room spans processes.
// Runs until the parent says close; returns the process's exit status.
int run_generator(const options& o, uint32_t proc, int to_parent_fd, int from_parent_fd);

// The share of `total` connect concurrency one of `procs` processes gets (at least 1).
uint32_t concurrency_share(uint32_t total, uint32_t procs);

}  // namespace chatd::bench
