// Logging backend: builds the whole line first so that one write(2) carries it; lines from
// several processes sharing stderr then never interleave mid-line.

#include "common/log.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <string>

namespace chatd::log {
namespace {

std::atomic<level> g_level{level::info};
std::string g_who = "chatd";

}  // namespace

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }
level current_level() { return g_level.load(std::memory_order_relaxed); }
void set_who(std::string_view who) { g_who.assign(who); }

bool parse_level(std::string_view text, level& out) {
  for (size_t i = 0; i < level_names.size(); ++i) {
    if (text == level_names[i]) {
      out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

void write(level l, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[32];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = fmt::format("{}.{:03d}Z {} {}[{}]: {}\n", std::string_view(stamp, n),
                                 ts.tv_nsec / 1000000, level_name(l), g_who,
                                 getpid(), message);
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
