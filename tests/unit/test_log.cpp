// common/log: the one list of level names, read back by parse_level; the line formats (text, json,
// the journal's priority prefix) and the JOURNAL_STREAM check; and the worker bound that config,
// CLI, master and the stats segment share (common/limits.h).

#include <doctest/doctest.h>

#include <cstdint>
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

namespace {

// 2026-12-04T03:40:00.123Z
constexpr int64_t k_when_ms = 1796355600123;

clog::line_context worker_context(clog::format f, bool journal) {
  clog::line_context ctx;
  ctx.fmt = f;
  ctx.journal = journal;
  ctx.role = "worker";
  ctx.slot = 1;
  ctx.pid = 123;
  ctx.unix_ms = k_when_ms;
  return ctx;
}

}  // namespace

TEST_CASE("log: every format name parses back to its format") {
  for (size_t i = 0; i < clog::format_names.size(); ++i) {
    clog::format f = clog::format::json;
    REQUIRE(clog::parse_format(clog::format_names[i], f));
    CHECK(static_cast<size_t>(f) == i);
    CHECK(clog::format_name(f) == clog::format_names[i]);
  }
  clog::format f = clog::format::text;
  CHECK_FALSE(clog::parse_format("JSON", f));
  CHECK(f == clog::format::text);
}

TEST_CASE("log: a text line is time, level, role and slot, pid, message") {
  auto ctx = worker_context(clog::format::text, false);
  CHECK(clog::format_line(ctx, clog::level::info, "hello") ==
        "2026-12-04T03:40:00.123Z info worker 1[123]: hello\n");
  ctx.role = "master";
  ctx.slot = -1;
  CHECK(clog::format_line(ctx, clog::level::warn, "x") ==
        "2026-12-04T03:40:00.123Z warn master[123]: x\n");
}

TEST_CASE("log: under the journal a text line opens with its priority and has no time") {
  auto ctx = worker_context(clog::format::text, true);
  CHECK(clog::format_line(ctx, clog::level::error, "e") == "<3>error worker 1[123]: e\n");
  CHECK(clog::format_line(ctx, clog::level::warn, "w") == "<4>warn worker 1[123]: w\n");
  CHECK(clog::format_line(ctx, clog::level::info, "i") == "<6>info worker 1[123]: i\n");
  CHECK(clog::format_line(ctx, clog::level::debug, "d") == "<7>debug worker 1[123]: d\n");
}

TEST_CASE("log: a json line has its keys in a fixed order") {
  auto ctx = worker_context(clog::format::json, false);
  CHECK(clog::format_line(ctx, clog::level::info, "hello") ==
        R"({"ts":"2026-12-04T03:40:00.123Z","level":"info","pid":123,"role":"worker",)"
        R"("slot":1,"msg":"hello"})"
        "\n");
  ctx.role = "master";
  ctx.slot = -1;
  CHECK(clog::format_line(ctx, clog::level::debug, "m") ==
        R"({"ts":"2026-12-04T03:40:00.123Z","level":"debug","pid":123,"role":"master","msg":"m"})"
        "\n");
}

TEST_CASE("log: under the journal a json line keeps its priority prefix") {
  auto ctx = worker_context(clog::format::json, true);
  std::string line = clog::format_line(ctx, clog::level::warn, "w");
  CHECK(line.starts_with("<4>{\"ts\":\"2026-12-04T03:40:00.123Z\","));
  CHECK(line.ends_with("\"msg\":\"w\"}\n"));
}

TEST_CASE("log: a json message escapes quotes, backslashes and control characters") {
  auto ctx = worker_context(clog::format::json, false);
  const std::string message = "a\"b\\c\nd\te\x01" "f\x1f";
  std::string line = clog::format_line(ctx, clog::level::info, message);
  CHECK(line.find(R"("msg":"a\"b\\c\nd\te\u0001f\u001f"})") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);  // one line, whatever the message holds
}

TEST_CASE("log: a json message keeps valid UTF-8 and replaces invalid bytes with U+FFFD") {
  auto ctx = worker_context(clog::format::json, false);
  std::string line = clog::format_line(ctx, clog::level::info, "caf\xC3\xA9 \xFF\xC3 end");
  CHECK(line.find("\"msg\":\"caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end\"}") != std::string::npos);
}

TEST_CASE("log: JOURNAL_STREAM matches only its own device and inode") {
  CHECK(clog::journal_stream_matches("8:12345", 8, 12345));
  CHECK_FALSE(clog::journal_stream_matches("8:12345", 8, 12346));
  CHECK_FALSE(clog::journal_stream_matches("9:12345", 8, 12345));
  CHECK_FALSE(clog::journal_stream_matches(nullptr, 8, 12345));
  for (const char* bad : {"", ":", "8", "8:", ":12345", "8:12345x", "a:b", "-8:12345"}) {
    CAPTURE(bad);
    CHECK_FALSE(clog::journal_stream_matches(bad, 8, 12345));
  }
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
