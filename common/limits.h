#pragma once
// Process-wide limits that several parts of chatd must agree on, each defined once here.

namespace chatd {

// Most worker processes one generation may run. A reload runs the old and the new generation side
// by side and every worker holds a slot of the stats segment, so the segment has 2x this many
// slots (common/stats.h); config validation, worker_count() and the master all use this bound.
inline constexpr int k_max_workers = 128;

}  // namespace chatd
