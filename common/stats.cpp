// The shared stats segment: MAP_SHARED|MAP_ANONYMOUS survives fork, so every worker and the
// master see the same pages without any file or IPC.

#include "common/stats.h"

#include "common/log.h"

#include <sys/mman.h>

#include <cerrno>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <cstring>
#include <new>

namespace chatd {

stats_segment* stats_segment::create() {
  void* p = mmap(nullptr, sizeof(stats_segment), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    log::error("stats: mmap of {} bytes failed: {}", sizeof(stats_segment), strerror(errno));
    return nullptr;
  }
#if defined(__SANITIZE_ADDRESS__)
  // The kernel may hand back pages ASan's own allocator used and unmapped, their shadow still
  // marked as ASan-internal: every read of the segment would then be reported. The pages are
  // ours now.
  ASAN_UNPOISON_MEMORY_REGION(p, sizeof(stats_segment));
#endif
  return new (p) stats_segment();
}

int stats_segment::claim(pid_t pid) {
  for (size_t i = 0; i < k_slots; ++i) {
    int32_t expected = 0;
    if (slots_[i].pid.compare_exchange_strong(expected, pid)) {
      worker_stats& s = slots_[i];
      // Totals restart with the process: Prometheus counters handle resets.
      s.state = 0;
      s.connections = 0;
      s.sessions = 0;
      s.accepted_total = 0;
      s.rejected_total = 0;
      s.messages_in_total = 0;
      s.deliveries_total = 0;
      s.dropped_slow_total = 0;
      s.bus_published_total = 0;
      s.bus_received_total = 0;
      s.bus_publish_dropped_total = 0;
      s.bus_reconnects_total = 0;
      s.bus_up = 0;
      s.handovers_total = 0;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void stats_segment::release(pid_t pid) {
  for (size_t i = 0; i < k_slots; ++i) {
    int32_t expected = pid;
    if (slots_[i].pid.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace chatd
