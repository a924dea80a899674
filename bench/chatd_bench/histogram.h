#pragma once
// Latency histogram for chatd-bench: log-linear buckets (exact below 256 µs, then 128 buckets per
// power of two, so any recorded value is known within 0.8 %), from 0 to 60 s in microseconds.
// Fixed size, so histograms from several generator processes merge by adding counts.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatd::bench {

class histogram {
 public:
  // Largest value kept as is; anything above is recorded as this value and counted in overflow().
  static constexpr uint64_t max_value = 60'000'000;  // 60 s in µs
  static constexpr unsigned sub_bits = 7;
  static constexpr uint64_t linear_limit = uint64_t{1} << (sub_bits + 1);  // 256: exact below
  static constexpr size_t bucket_count = 2560;

  void record(uint64_t value_us);
  void merge(const histogram& other);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  uint64_t overflow() const { return overflow_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  // The smallest recorded value v such that at least `percentile` % of the records are <= v,
  // reported as the upper end of v's bucket (never below the true value, never above max()).
  // 0 when empty. `percentile` is clamped to [0, 100].
  uint64_t value_at(double percentile) const;

  // Bucket arithmetic, public for the tests.
  static size_t index_of(uint64_t value_us);
  static uint64_t lowest_in(size_t index);
  static uint64_t highest_in(size_t index);

  // Compact binary form (only non-empty buckets) for the pipe between generator processes.
  void serialize(std::string& out) const;
  // Reads what serialize wrote from the front of `in` and advances it; nullopt when malformed
  // or truncated.
  static std::optional<histogram> deserialize(std::string_view& in);

 private:
  std::array<uint64_t, bucket_count> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t overflow_ = 0;
};

}  // namespace chatd::bench
