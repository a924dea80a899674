#pragma once
// What the server under test costs, read from /proc: resident memory (VmRSS) and CPU time of
// the given pids and every descendant (a pre-forked server's workers are its children).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chatd::bench {

struct proc_sample {
  uint64_t rss_kib = 0;  // VmRSS summed
  double cpu_s = 0;      // user + system time summed
  size_t processes = 0;  // processes found alive
};

// `roots` and their living descendants, each once.
std::vector<int> with_descendants(const std::vector<int>& roots);
proc_sample sample_processes(const std::vector<int>& roots);

}  // namespace chatd::bench
