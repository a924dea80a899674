// Log-linear latency histogram: bucket arithmetic, percentiles, merging and the pipe format.

#include "bench/chatd_bench/histogram.h"

#include "bench/chatd_bench/wire_bytes.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace chatd::bench {

namespace {
constexpr uint64_t sub_count = uint64_t{1} << histogram::sub_bits;  // buckets per power of two above 256
}

size_t histogram::index_of(uint64_t v) {
  if (v > max_value) v = max_value;
  if (v < linear_limit) return static_cast<size_t>(v);
  const unsigned msb = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= sub_bits + 1
  const unsigned shift = msb - sub_bits;
  return static_cast<size_t>(linear_limit + (msb - (sub_bits + 1)) * sub_count +
                             ((v >> shift) - sub_count));
}

uint64_t histogram::lowest_in(size_t index) {
  if (index < linear_limit) return index;
  const uint64_t k = index - linear_limit;
  const unsigned shift = static_cast<unsigned>(k / sub_count) + 1;
  return (sub_count + k % sub_count) << shift;
}

uint64_t histogram::highest_in(size_t index) {
  if (index < linear_limit) return index;
  const uint64_t k = index - linear_limit;
  const unsigned shift = static_cast<unsigned>(k / sub_count) + 1;
  return lowest_in(index) + (uint64_t{1} << shift) - 1;
}

static_assert(histogram::bucket_count > 0);

void histogram::record(uint64_t v) {
  if (v > max_value) {
    v = max_value;
    ++overflow_;
  }
  ++counts_[index_of(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void histogram::merge(const histogram& o) {
  for (size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  overflow_ += o.overflow_;
}

void histogram::clear() { *this = histogram{}; }

uint64_t histogram::value_at(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the record asked for, 1-based; at least the first record.
  uint64_t rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_in(i), max_);
  }
  return max_;
}

// Format: count, sum, min, max, overflow, n, then n pairs (bucket index, count).
void histogram::serialize(std::string& out) const {
  put_u64(out, count_);
  put_u64(out, sum_);
  put_u64(out, min_);
  put_u64(out, max_);
  put_u64(out, overflow_);
  uint64_t n = 0;
  for (uint64_t c : counts_) n += c != 0;
  put_u64(out, n);
  for (size_t i = 0; i < bucket_count; ++i) {
    if (counts_[i] == 0) continue;
    put_u64(out, i);
    put_u64(out, counts_[i]);
  }
}

std::optional<histogram> histogram::deserialize(std::string_view& in) {
  std::string_view cur = in;
  histogram h;
  auto count = get_u64(cur);
  auto sum = get_u64(cur);
  auto mn = get_u64(cur);
  auto mx = get_u64(cur);
  auto over = get_u64(cur);
  auto n = get_u64(cur);
  if (!n || *n > bucket_count) return std::nullopt;
  uint64_t total = 0;
  for (uint64_t k = 0; k < *n; ++k) {
    auto idx = get_u64(cur);
    auto c = get_u64(cur);
    if (!c || *idx >= bucket_count) return std::nullopt;
    h.counts_[*idx] += *c;
    total += *c;
  }
  if (total != *count) return std::nullopt;  // buckets and total disagree: not our data
  h.count_ = *count;
  h.sum_ = *sum;
  h.min_ = *mn;
  h.max_ = *mx;
  h.overflow_ = *over;
  in = cur;
  return h;
}

}  // namespace chatd::bench
