#pragma once
// A recurring problem logged without flooding the log: the first occurrence, then at most one line
// per interval carrying how many were suppressed since. Pure (the caller passes the time), so any
// module can keep one per kind of problem and tests need no clock.

#include <cstdint>
#include <utility>

namespace chatd::log {

class rate_limited {
 public:
  // Ten seconds: an operator still sees a problem that lasts, a storm costs a line or so per
  // screen.
  static constexpr uint64_t k_default_interval_ms = 10000;

  explicit rate_limited(uint64_t interval_ms = k_default_interval_ms) : interval_ms_(interval_ms) {}

  // Calls emit(suppressed) when a line is due (suppressed: occurrences skipped since the last
  // line), else only counts this one.
  template <class F>
  void operator()(uint64_t now_ms, F&& emit) {
    if (logged_once_ && now_ms - last_ms_ < interval_ms_) {
      ++suppressed_;
      return;
    }
    std::forward<F>(emit)(suppressed_);
    logged_once_ = true;
    last_ms_ = now_ms;
    suppressed_ = 0;
  }

 private:
  uint64_t interval_ms_;
  bool logged_once_ = false;
  uint64_t last_ms_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace chatd::log
