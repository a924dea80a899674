#pragma once
// A token bucket: at most `burst` actions at once, refilled at `rate` per second. Pure (the caller
// passes the time and the limits), 16 bytes, so every session can keep one for its message rate
// and the per-IP tables one per address; tests need no clock.

#include <algorithm>
#include <cstdint>

namespace chatd {

class token_bucket {
 public:
  // Takes one token at `now_ms` (a monotonic clock) if there is one. A bucket never used before
  // starts full. rate_per_s 0 means no limit.
  bool take(uint64_t now_ms, double rate_per_s, double burst) {
    if (rate_per_s <= 0) return true;
    refill(now_ms, rate_per_s, burst);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  // Whether the bucket would be full at `now_ms` (nothing to remember about its owner).
  bool full(uint64_t now_ms, double rate_per_s, double burst) const {
    if (!started_) return true;
    double elapsed_s = now_ms > last_ms_ ? static_cast<double>(now_ms - last_ms_) / 1000.0 : 0.0;
    return tokens_ + elapsed_s * rate_per_s >= burst;
  }

 private:
  void refill(uint64_t now_ms, double rate_per_s, double burst) {
    if (!started_) {
      started_ = true;
      tokens_ = burst;
    } else if (now_ms > last_ms_) {
      double elapsed_s = static_cast<double>(now_ms - last_ms_) / 1000.0;
      tokens_ = std::min(burst, tokens_ + elapsed_s * rate_per_s);
    }
    last_ms_ = std::max(last_ms_, now_ms);
  }

  float tokens_ = 0;
  bool started_ = false;
  uint64_t last_ms_ = 0;
};

}  // namespace chatd
