// bench/chatd_bench/histogram: bucket arithmetic, percentiles, merging, the pipe format.

#include "bench/chatd_bench/histogram.h"

#include <doctest/doctest.h>

#include <string>

using chatd::bench::histogram;

TEST_CASE("an empty histogram reports zeros") {
  histogram h;
  CHECK(h.count() == 0);
  CHECK(h.value_at(50) == 0);
  CHECK(h.value_at(99.9) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0);
}

TEST_CASE("values below 256 us are kept exactly") {
  for (uint64_t v = 0; v < histogram::linear_limit; ++v) {
    const size_t i = histogram::index_of(v);
    CHECK(histogram::lowest_in(i) == v);
    CHECK(histogram::highest_in(i) == v);
  }
}

TEST_CASE("every value falls inside its bucket, whose width is under 1 percent of it") {
  for (uint64_t v = 1; v <= histogram::max_value; v = v * 5 / 4 + 1) {
    const size_t i = histogram::index_of(v);
    REQUIRE(i < histogram::bucket_count);
    CHECK(histogram::lowest_in(i) <= v);
    CHECK(histogram::highest_in(i) >= v);
    CHECK(static_cast<double>(histogram::highest_in(i) - histogram::lowest_in(i)) <=
          static_cast<double>(v) / 128.0);
  }
}

TEST_CASE("buckets are contiguous and increasing") {
  for (size_t i = 1; i < histogram::bucket_count; ++i) {
    CHECK(histogram::lowest_in(i) == histogram::highest_in(i - 1) + 1);
  }
  CHECK(histogram::index_of(histogram::max_value) < histogram::bucket_count);
}

TEST_CASE("percentiles of 1..1000 us are the expected ranks") {
  histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v);
  CHECK(h.count() == 1000);
  CHECK(h.min() == 1);
  CHECK(h.max() == 1000);
  const uint64_t p50 = h.value_at(50);
  CHECK(p50 >= 500);
  CHECK(p50 <= 503);
  const uint64_t p99 = h.value_at(99);
  CHECK(p99 >= 990);
  CHECK(p99 <= 997);
  CHECK(h.value_at(100) == 1000);
  CHECK(h.value_at(0) == 1);
  CHECK(h.mean() == doctest::Approx(500.5));
}

TEST_CASE("a percentile never reports more than the largest value recorded") {
  histogram h;
  h.record(123457);
  CHECK(h.value_at(99.9) == 123457);
}

TEST_CASE("values above 60 s are clamped and counted as overflow") {
  histogram h;
  h.record(histogram::max_value + 5);
  h.record(10);
  CHECK(h.overflow() == 1);
  CHECK(h.max() == histogram::max_value);
  CHECK(h.count() == 2);
}

TEST_CASE("merging adds counts and keeps extremes") {
  histogram a, b;
  for (int i = 0; i < 10; ++i) a.record(100);
  for (int i = 0; i < 30; ++i) b.record(5000);
  a.merge(b);
  CHECK(a.count() == 40);
  CHECK(a.min() == 100);
  CHECK(a.max() == 5000);
  CHECK(a.value_at(25) == 100);
  CHECK(a.value_at(26) >= 5000);
}

TEST_CASE("merging an empty histogram changes nothing") {
  histogram a, empty;
  a.record(42);
  a.merge(empty);
  CHECK(a.count() == 1);
  CHECK(a.min() == 42);
  CHECK(a.max() == 42);
}

TEST_CASE("serialize then deserialize gives the same histogram") {
  histogram h;
  for (uint64_t v : {0ull, 1ull, 300ull, 300ull, 70000ull, 59999999ull}) h.record(v);
  std::string bytes;
  h.serialize(bytes);
  bytes += "tail";
  std::string_view in(bytes);
  auto back = histogram::deserialize(in);
  REQUIRE(back.has_value());
  CHECK(in == "tail");
  CHECK(back->count() == h.count());
  CHECK(back->min() == h.min());
  CHECK(back->max() == h.max());
  CHECK(back->mean() == h.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 100.0}) CHECK(back->value_at(p) == h.value_at(p));
}

TEST_CASE("a truncated serialized histogram is refused and the input left as it was") {
  histogram h;
  h.record(5);
  h.record(5000);
  std::string bytes;
  h.serialize(bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view in(bytes.data(), n);
    CHECK_FALSE(histogram::deserialize(in).has_value());
    CHECK(in.size() == n);
  }
}

TEST_CASE("a serialized histogram whose buckets disagree with its count is refused") {
  histogram h;
  h.record(5);
  std::string bytes;
  h.serialize(bytes);
  bytes[0] = 2;  // count says 2, buckets hold 1
  std::string_view in(bytes);
  CHECK_FALSE(histogram::deserialize(in).has_value());
}
