// The shared stats segment: MAP_SHARED|MAP_ANONYMOUS survives fork, so every worker and the
// master see the same pages without any file or IPC. The fold of a gone worker's counts and the
// reading of whole-daemon totals (see stats.h for why they cannot race).

#include "common/stats.h"

#include "common/log.h"

#include <sys/mman.h>

#include <cerrno>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

namespace chatd {
namespace {

void add(const std::atomic<uint64_t>& from, std::atomic<uint64_t>& into) {
  into.fetch_add(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

template <size_t N>
void add(const histogram<N>& from, histogram<N>& into) {
  for (size_t i = 0; i <= N; ++i) add(from.buckets[i], into.buckets[i]);
  add(from.sum, into.sum);
}

template <size_t N>
void zero(histogram<N>& h) {
  for (auto& b : h.buckets) b.store(0, std::memory_order_relaxed);
  h.sum.store(0, std::memory_order_relaxed);
}

// daemon_totals() reads again at most this often while a fold is under way (one takes
// microseconds).
constexpr int k_max_attempts = 10000;

}  // namespace

void counters::add_to(counters& into) const {
#define CHATD_COUNTER_ADD(field, help) add(field, into.field);
  CHATD_COUNTERS(CHATD_COUNTER_ADD)
#undef CHATD_COUNTER_ADD
  for (size_t r = 0; r < k_jwt_refusals; ++r) add(auth_refused_total[r], into.auth_refused_total[r]);
  add(delivery_latency_ns, into.delivery_latency_ns);
  add(message_size_bytes, into.message_size_bytes);
  add(redis_rtt_ns, into.redis_rtt_ns);
}

void counters::zero() {
#define CHATD_COUNTER_ZERO(field, help) field.store(0, std::memory_order_relaxed);
  CHATD_COUNTERS(CHATD_COUNTER_ZERO)
#undef CHATD_COUNTER_ZERO
  for (auto& c : auth_refused_total) c.store(0, std::memory_order_relaxed);
  chatd::zero(delivery_latency_ns);
  chatd::zero(message_size_bytes);
  chatd::zero(redis_rtt_ns);
}

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
      // The counters are 0: retire() folded and zeroed them before freeing the slot. Zeroing
      // them here would race a reader that already sees this pid.
      s.state = 0;
      s.connections = 0;
      s.sessions = 0;
      s.output_queued_bytes = 0;
      s.bus_up = 0;
      s.redis_last_rtt_ns = 0;
      s.started_unix_ms = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
      return static_cast<int>(i);
    }
  }
  return -1;
}

void stats_segment::retire(pid_t pid) {
  for (size_t i = 0; i < k_slots; ++i) {
    worker_stats& s = slots_[i];
    if (s.pid.load(std::memory_order_relaxed) != pid) continue;
    // A seqlock with the master as its only writer: odd while the counts move from the slot to
    // the retired totals.
    const uint64_t seq = fold_seq_.load(std::memory_order_relaxed);
    fold_seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    s.add_to(retired_);
    s.zero();
    s.connections.store(0, std::memory_order_relaxed);
    s.sessions.store(0, std::memory_order_relaxed);
    s.output_queued_bytes.store(0, std::memory_order_relaxed);
    s.bus_up.store(0, std::memory_order_relaxed);
    // Release: the worker that claims the slot next (an acquire CAS) starts from these zeroes.
    s.pid.store(0, std::memory_order_release);
    fold_seq_.store(seq + 2, std::memory_order_release);
    return;
  }
}

void stats_segment::daemon_totals(counters& out) const {
  // Bounded: a master killed in the middle of a fold would leave the count odd for good; its
  // workers are told to stop then (PR_SET_PDEATHSIG) and must not hang on a /metrics request.
  for (int attempt = 0;; ++attempt) {
    const uint64_t before = fold_seq_.load(std::memory_order_acquire);
    out.zero();
    retired_.add_to(out);
    for (const worker_stats& s : slots_) {
      if (s.pid.load(std::memory_order_relaxed) != 0) s.add_to(out);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    const bool settled = before % 2 == 0 && fold_seq_.load(std::memory_order_relaxed) == before;
    if (settled || attempt >= k_max_attempts) return;
    // A fold is a few hundred relaxed stores by the master: let it finish.
    std::this_thread::yield();
  }
}

}  // namespace chatd
