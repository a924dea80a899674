#pragma once
// Logging: one line per event to stderr, formatted with fmt. Every process (master, each worker)
// names its role once at start; level and format come from config and change on reload.
//   text:    "<time> <level> <role>[<pid>]: <message>"        (role "master" or "worker 1")
//   json:    {"ts":"...","level":"info","pid":1,"role":"worker","slot":1,"msg":"..."}
// Under systemd (stderr is the journal, see stderr_is_journal) each line opens with the
// sd-daemon priority prefix ("<6>"), and text lines drop the time, which journald records itself.

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };
// The names of the levels, indexed by level: the config file, the command line and log lines all
// spell them so.
inline constexpr std::array<std::string_view, 4> level_names{"debug", "info", "warn", "error"};
// The name of `l`; "?" for a value outside the enum.
constexpr std::string_view level_name(level l) {
  auto i = static_cast<size_t>(l);
  return i < level_names.size() ? level_names[i] : "?";
}

enum class format { text = 0, json = 1 };
// The names of the formats, indexed by format, as log.format spells them.
inline constexpr std::array<std::string_view, 2> format_names{"text", "json"};
constexpr std::string_view format_name(format f) {
  auto i = static_cast<size_t>(f);
  return i < format_names.size() ? format_names[i] : "?";
}

void set_level(level l);
level current_level();
void set_format(format f);
format current_format();
// Names the process in every line: role "master" (slot -1) or "worker" with its slot.
void set_role(std::string_view role, int slot = -1);
// Whether lines carry the journal's priority prefix and no time of their own.
void set_journal(bool on);
// Parses one of level_names; returns false when `text` is none of these.
bool parse_level(std::string_view text, level& out);
// Parses one of format_names; returns false when `text` is none of these.
bool parse_format(std::string_view text, format& out);

// systemd.exec(5): JOURNAL_STREAM is "<device>:<inode>" of the stream connected to the journal.
// True when `journal_stream` names (`dev`, `ino`); a null or malformed value names nothing.
bool journal_stream_matches(const char* journal_stream, uint64_t dev, uint64_t ino);
// True when this process's stderr is the journal stream systemd set up (not merely inherited
// JOURNAL_STREAM with stderr redirected elsewhere).
bool stderr_is_journal();

// sd-daemon(3) priority of `l`: 3 error, 4 warning, 6 info, 7 debug.
int journal_priority(level l);

// What a line says besides its message.
struct line_context {
  format fmt = format::text;
  bool journal = false;
  std::string_view role = "chatd";
  int slot = -1;              // -1: none (the master)
  int64_t pid = 0;
  int64_t unix_ms = 0;        // time of the event, milliseconds since the epoch (UTC)
};
// The whole line, newline included. Pure: the unit tests call it directly.
std::string format_line(const line_context& ctx, level l, std::string_view message);

void write(level l, std::string_view message);

inline bool enabled(level l) { return l >= current_level(); }

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::debug)) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::info)) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::warn)) write(level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::error)) write(level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace chatd::log
