// Logging backend: builds the whole line first so that one write(2) carries it; lines from
// several processes sharing stderr then never interleave mid-line.

#include "common/log.h"

#include "common/json_text.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <string>

namespace chatd::log {
namespace {

std::atomic<level> g_level{level::info};
std::atomic<format> g_format{format::text};
std::atomic<bool> g_journal{false};
std::string g_role = "chatd";
int g_slot = -1;

// "2026-12-04T03:40:00.123Z"
void append_timestamp(std::string& out, int64_t unix_ms) {
  time_t secs = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[32];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  fmt::format_to(std::back_inserter(out), "{}.{:03d}Z", std::string_view(stamp, n),
                 static_cast<int>(unix_ms % 1000));
}

// The enum value whose name (names[value]) is `text`; false, `out` untouched, for none.
template <class E, size_t N>
bool parse_name(const std::array<std::string_view, N>& names, std::string_view text, E& out) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) {
      out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

bool parse_u64(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }
level current_level() { return g_level.load(std::memory_order_relaxed); }
void set_format(format f) { g_format.store(f, std::memory_order_relaxed); }
format current_format() { return g_format.load(std::memory_order_relaxed); }
void set_journal(bool on) { g_journal.store(on, std::memory_order_relaxed); }

void set_role(std::string_view role, int slot) {
  g_role.assign(role);
  g_slot = slot;
}

bool parse_level(std::string_view text, level& out) { return parse_name(level_names, text, out); }
bool parse_format(std::string_view text, format& out) {
  return parse_name(format_names, text, out);
}

bool journal_stream_matches(const char* journal_stream, uint64_t dev, uint64_t ino) {
  if (journal_stream == nullptr) return false;
  std::string_view text(journal_stream);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t want_dev = 0;
  uint64_t want_ino = 0;
  if (!parse_u64(text.substr(0, colon), want_dev) || !parse_u64(text.substr(colon + 1), want_ino)) {
    return false;
  }
  return want_dev == dev && want_ino == ino;
}

bool stderr_is_journal() {
  const char* env = getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return journal_stream_matches(env, static_cast<uint64_t>(st.st_dev),
                                static_cast<uint64_t>(st.st_ino));
}

int journal_priority(level l) {
  switch (l) {
    case level::debug: return 7;
    case level::info: return 6;
    case level::warn: return 4;
    case level::error: return 3;
  }
  return 3;
}

std::string format_line(const line_context& ctx, level l, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 96);
  auto out = std::back_inserter(line);
  if (ctx.journal) fmt::format_to(out, "<{}>", journal_priority(l));
  if (ctx.fmt == format::json) {
    // Keys always in this order; "slot" only for a process that has one.
    line += "{\"ts\":\"";
    append_timestamp(line, ctx.unix_ms);
    fmt::format_to(out, "\",\"level\":\"{}\",\"pid\":{},\"role\":", level_name(l), ctx.pid);
    append_json_string(line, ctx.role);
    if (ctx.slot >= 0) fmt::format_to(out, ",\"slot\":{}", ctx.slot);
    line += ",\"msg\":";
    append_json_string(line, message);
    line += "}\n";
    return line;
  }
  if (!ctx.journal) {
    append_timestamp(line, ctx.unix_ms);
    line += ' ';
  }
  fmt::format_to(out, "{} {}", level_name(l), ctx.role);
  if (ctx.slot >= 0) fmt::format_to(out, " {}", ctx.slot);
  fmt::format_to(out, "[{}]: {}\n", ctx.pid, message);
  return line;
}

void write(level l, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  line_context ctx;
  ctx.fmt = current_format();
  ctx.journal = g_journal.load(std::memory_order_relaxed);
  ctx.role = g_role;
  ctx.slot = g_slot;
  ctx.pid = getpid();
  ctx.unix_ms = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  std::string line = format_line(ctx, l, message);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone; nothing sensible left to do with a log line
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace chatd::log
