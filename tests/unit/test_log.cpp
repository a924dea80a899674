// common/log: the one list of level names, read back by parse_level; and the worker bound that
// config, CLI, master and the stats segment share (common/limits.h).

#include <doctest/doctest.h>

#include <string>

#include "common/config.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/stats.h"

namespace clog = chatd::log;

TEST_CASE("log: every level name parses back to its level") {
  for (size_t i = 0; i < clog::level_names.size(); ++i) {
    clog::level l = clog::level::error;
    REQUIRE(clog::parse_level(clog::level_names[i], l));
    CHECK(static_cast<size_t>(l) == i);
    CHECK(clog::level_name(l) == clog::level_names[i]);
  }
}

TEST_CASE("log: a name outside the list is refused") {
  clog::level l = clog::level::info;
  CHECK_FALSE(clog::parse_level("verbose", l));
  CHECK_FALSE(clog::parse_level("WARN", l));
  CHECK(l == clog::level::info);
}

TEST_CASE("limits: the stats segment holds two full generations of workers") {
  CHECK(chatd::stats_segment::k_slots >= 2 * static_cast<size_t>(chatd::k_max_workers));
}

TEST_CASE("limits: worker_count never exceeds k_max_workers") {
  chatd::config c;
  c.workers = 0;
  CHECK(c.worker_count() <= chatd::k_max_workers);
  c.workers = chatd::k_max_workers;
  CHECK(c.worker_count() == chatd::k_max_workers);
}
