#pragma once
// Send pacing for chatd-bench: how many messages are due at a given time for a fixed total rate
// (a timer asks often and sends what is due, so a late tick catches up), and which sender sends
// next (round-robin, so the rate is spread evenly over the senders). Pure arithmetic.

#include <cstddef>
#include <cstdint>

namespace chatd::bench {

class pacer {
 public:
  // `rate` messages per second from `start_us` on (monotonic µs).
  pacer(double rate, uint64_t start_us) : rate_(rate), start_us_(start_us) {}

  // Messages to send now so that the total sent since start matches the rate at `now_us`, at most
  // `cap` (the rest stays due and is caught up on later calls). Counts them as sent.
  uint64_t take_due(uint64_t now_us, uint64_t cap);

  uint64_t taken() const { return taken_; }
  // Messages due by `now_us` but not yet taken (a generator that falls behind shows it here).
  uint64_t backlog(uint64_t now_us) const;

 private:
  uint64_t due_total(uint64_t now_us) const;

  double rate_;
  uint64_t start_us_;
  uint64_t taken_ = 0;
};

// Round-robin over `n` slots.
class rotation {
 public:
  // The next slot in [0, n); 0 when n is 0.
  size_t next(size_t n) {
    if (n == 0) return 0;
    if (cursor_ >= n) cursor_ = 0;
    return cursor_++;
  }

 private:
  size_t cursor_ = 0;
};

}  // namespace chatd::bench
