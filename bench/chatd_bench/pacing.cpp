// Paced sending arithmetic.

#include "bench/chatd_bench/pacing.h"

#include <algorithm>

namespace chatd::bench {

uint64_t pacer::due_total(uint64_t now_us) const {
  if (now_us <= start_us_ || rate_ <= 0) return 0;
  // One message at the start instant, then one every 1/rate s.
  return static_cast<uint64_t>(static_cast<double>(now_us - start_us_) * rate_ / 1e6) + 1;
}

uint64_t pacer::take_due(uint64_t now_us, uint64_t cap) {
  const uint64_t due = due_total(now_us);
  const uint64_t n = due > taken_ ? std::min(due - taken_, cap) : 0;
  taken_ += n;
  return n;
}

uint64_t pacer::backlog(uint64_t now_us) const {
  const uint64_t due = due_total(now_us);
  return due > taken_ ? due - taken_ : 0;
}

}  // namespace chatd::bench
