#pragma once
// Logging: one line per event to stderr, "<time> <level> <who>: <message>", formatted with fmt.
// Every process (master, each worker) sets its own `who` once at start; the level comes from config.

#include <fmt/format.h>

#include <array>
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

void set_level(level l);
level current_level();
// Names the process in every line, e.g. "master" or "worker 1".
void set_who(std::string_view who);
// Parses one of level_names; returns false when `text` is none of these.
bool parse_level(std::string_view text, level& out);

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
