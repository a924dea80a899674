// common/rate_limited: the first occurrence is logged, then at most one line per interval with the
// count suppressed since.

#include <doctest/doctest.h>

#include <vector>

#include "common/rate_limited.h"

using chatd::log::rate_limited;

namespace {

// Feeds one occurrence at each time and returns the suppressed counts of the lines emitted.
std::vector<uint64_t> lines_at(rate_limited& limit, const std::vector<uint64_t>& times) {
  std::vector<uint64_t> out;
  for (uint64_t t : times) {
    limit(t, [&](uint64_t suppressed) { out.push_back(suppressed); });
  }
  return out;
}

}  // namespace

TEST_CASE("rate_limited: the first occurrence is logged at once") {
  rate_limited limit(1000);
  CHECK(lines_at(limit, {0}) == std::vector<uint64_t>{0});
}

TEST_CASE("rate_limited: occurrences within the interval are counted, not logged") {
  rate_limited limit(1000);
  CHECK(lines_at(limit, {0, 10, 500, 999}) == std::vector<uint64_t>{0});
}

TEST_CASE("rate_limited: the next line after the interval carries the suppressed count") {
  rate_limited limit(1000);
  CHECK(lines_at(limit, {5, 10, 20, 1005, 1500, 2005}) == std::vector<uint64_t>{0, 2, 1});
}
