// Configuration loading: YAML text -> `config`, with every mistake reported as the file, the
// 1-based line and a reason an operator can act on. One table of keys drives both the loader
// (which knows lines) and validate_config (which re-checks values after command-line overrides),
// so a range is written once. yaml-cpp throws; nothing thrown here leaves a public function.

#include "common/config.h"
#include "common/config_auth.h"
#include "common/config_namespaces.h"
#include "common/limits.h"
#include "common/read_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/ranges.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <sstream>
#include <set>
#include <string_view>

namespace chatd {
namespace {

// ---------------------------------------------------------------------------------------------
// Value forms: integers, durations and sizes, parsed from the scalar's text ourselves so that a
// bad value gets our message rather than yaml-cpp's "bad conversion".

constexpr int64_t k_ms = 1;
constexpr int64_t k_second = 1000 * k_ms;
constexpr int64_t k_minute = 60 * k_second;
constexpr int64_t k_hour = 60 * k_minute;
constexpr int64_t k_kib = 1024;
constexpr int64_t k_mib = 1024 * k_kib;
constexpr int64_t k_gib = 1024 * k_mib;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

enum class number_status { ok, malformed, overflow };

// Optional sign then decimal digits, nothing else.
number_status parse_int64(std::string_view s, int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return number_status::malformed;
  int64_t v = 0;
  bool overflow = false;
  for (char c : s) {
    if (!is_digit(c)) return number_status::malformed;
    if (!overflow && (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v))) {
      overflow = true;
    }
  }
  if (overflow) return number_status::overflow;
  out = negative ? -v : v;
  return number_status::ok;
}

struct unit {
  std::string_view name;
  int64_t factor;
};

constexpr unit k_duration_units[] = {
    {"ms", k_ms}, {"s", k_second}, {"m", k_minute}, {"h", k_hour}};
// Decimal and binary units both, spelled exactly: "KB" or "k" would be a guess between them.
constexpr unit k_size_units[] = {{"B", 1},           {"kB", 1000},       {"KiB", k_kib},
                                 {"MB", 1000000},    {"MiB", k_mib},     {"GB", 1000000000},
                                 {"GiB", k_gib}};

// "<integer>" (in the base unit) or "<integer><unit>", optionally with blanks before the unit.
template <size_t N>
number_status parse_with_units(std::string_view text, const unit (&units)[N], int64_t& out) {
  text = trim(text);
  size_t split = 0;
  if (split < text.size() && (text[split] == '-' || text[split] == '+')) ++split;
  while (split < text.size() && is_digit(text[split])) ++split;
  std::string_view number = text.substr(0, split);
  std::string_view suffix = trim(text.substr(split));
  int64_t factor = 1;
  if (!suffix.empty()) {
    auto it = std::find_if(std::begin(units), std::end(units),
                           [&](const unit& u) { return u.name == suffix; });
    if (it == std::end(units)) return number_status::malformed;
    factor = it->factor;
  }
  int64_t v = 0;
  number_status st = parse_int64(number, v);
  if (st != number_status::ok) return st;
  if (__builtin_mul_overflow(v, factor, &v)) return number_status::overflow;
  out = v;
  return number_status::ok;
}

// Largest unit that divides the value exactly, so limits print as they would be written.
template <size_t N>
std::string format_with_units(int64_t v, const unit (&units)[N], std::string_view zero) {
  if (v == 0) return std::string(zero);
  const unit* best = nullptr;
  for (const unit& u : units) {
    if (v % u.factor == 0 && (best == nullptr || u.factor > best->factor)) best = &u;
  }
  if (best == nullptr || best->factor == 1) return fmt::format("{}{}", v, units[0].name);
  return fmt::format("{}{}", v / best->factor, best->name);
}

std::string format_duration(int64_t ms) { return format_with_units(ms, k_duration_units, "0"); }
std::string format_size(int64_t bytes) { return format_with_units(bytes, k_size_units, "0"); }

// ---------------------------------------------------------------------------------------------
// The keys. Each numeric key has one row: where it lives, its form, its range, and how to read and
// write its field. Ranges are checked on load (with the line) and again in validate_config.

enum class value_form { integer, duration, size };

struct numeric_key {
  std::string_view path;
  value_form form;
  int64_t min;
  int64_t max;
  int64_t (*get)(const config&);
  void (*set)(config&, int64_t);
};

// clang-format off
constexpr numeric_key k_numeric_keys[] = {
  {"listen.port", value_form::integer, 1, 65535,
   [](const config& c) -> int64_t { return c.listen_port; },
   [](config& c, int64_t v) { c.listen_port = static_cast<uint16_t>(v); }},
  // Linux silently caps the backlog at net.core.somaxconn; the bound only catches typos.
  {"listen.backlog", value_form::integer, 1, 65535,
   [](const config& c) -> int64_t { return c.listen_backlog; },
   [](config& c, int64_t v) { c.listen_backlog = static_cast<int>(v); }},
  {"workers", value_form::integer, 0, k_max_workers,
   [](const config& c) -> int64_t { return c.workers; },
   [](config& c, int64_t v) { c.workers = static_cast<int>(v); }},
  {"redis.connect_timeout", value_form::duration, 1, k_hour,
   [](const config& c) -> int64_t { return c.redis_connect_timeout_ms; },
   [](config& c, int64_t v) { c.redis_connect_timeout_ms = static_cast<uint32_t>(v); }},
  {"redis.reconnect_max", value_form::duration, 1, k_hour,
   [](const config& c) -> int64_t { return c.redis_reconnect_max_ms; },
   [](config& c, int64_t v) { c.redis_reconnect_max_ms = static_cast<uint32_t>(v); }},
  // Short heartbeats are allowed so that tests can exercise timeouts in well under a second.
  {"engineio.ping_interval", value_form::duration, 50, k_hour,
   [](const config& c) -> int64_t { return c.ping_interval_ms; },
   [](config& c, int64_t v) { c.ping_interval_ms = static_cast<uint32_t>(v); }},
  {"engineio.ping_timeout", value_form::duration, 50, k_hour,
   [](const config& c) -> int64_t { return c.ping_timeout_ms; },
   [](config& c, int64_t v) { c.ping_timeout_ms = static_cast<uint32_t>(v); }},
  {"engineio.max_payload", value_form::size, 1, 100 * k_mib,
   [](const config& c) -> int64_t { return c.max_payload; },
   [](config& c, int64_t v) { c.max_payload = static_cast<uint32_t>(v); }},
  {"engineio.connect_timeout", value_form::duration, 50, k_hour,
   [](const config& c) -> int64_t { return c.connect_timeout_ms; },
   [](config& c, int64_t v) { c.connect_timeout_ms = static_cast<uint32_t>(v); }},
  {"engineio.upgrade_timeout", value_form::duration, 50, k_hour,
   [](const config& c) -> int64_t { return c.upgrade_timeout_ms; },
   [](config& c, int64_t v) { c.upgrade_timeout_ms = static_cast<uint32_t>(v); }},
  {"limits.max_connections", value_form::integer, 1, 10000000,
   [](const config& c) -> int64_t { return c.max_connections; },
   [](config& c, int64_t v) { c.max_connections = static_cast<uint32_t>(v); }},
  {"limits.max_backpressure", value_form::size, k_kib, UINT32_MAX,
   [](const config& c) -> int64_t { return c.max_backpressure; },
   [](config& c, int64_t v) { c.max_backpressure = static_cast<uint32_t>(v); }},
  // Per worker; 0 turns the budget off (max_backpressure still holds each client).
  {"limits.max_output_memory", value_form::size, 0, 1024 * k_gib,
   [](const config& c) -> int64_t { return static_cast<int64_t>(c.max_output_memory); },
   [](config& c, int64_t v) { c.max_output_memory = static_cast<uint64_t>(v); }},
  {"limits.max_header_size", value_form::size, k_kib, k_mib,
   [](const config& c) -> int64_t { return c.max_header_size; },
   [](config& c, int64_t v) { c.max_header_size = static_cast<uint32_t>(v); }},
  {"limits.handshake_timeout", value_form::duration, 50, k_hour,
   [](const config& c) -> int64_t { return c.handshake_timeout_ms; },
   [](config& c, int64_t v) { c.handshake_timeout_ms = static_cast<uint32_t>(v); }},
  {"limits.max_connections_per_ip", value_form::integer, 0, 10000000,
   [](const config& c) -> int64_t { return c.max_connections_per_ip; },
   [](config& c, int64_t v) { c.max_connections_per_ip = static_cast<uint32_t>(v); }},
  {"limits.message_rate", value_form::integer, 0, 1000000,
   [](const config& c) -> int64_t { return c.message_rate; },
   [](config& c, int64_t v) { c.message_rate = static_cast<uint32_t>(v); }},
  {"limits.message_burst", value_form::integer, 1, 1000000,
   [](const config& c) -> int64_t { return c.message_burst; },
   [](config& c, int64_t v) { c.message_burst = static_cast<uint32_t>(v); }},
  {"limits.rooms_per_ip_per_minute", value_form::integer, 0, 1000000,
   [](const config& c) -> int64_t { return c.rooms_per_ip_per_minute; },
   [](config& c, int64_t v) { c.rooms_per_ip_per_minute = static_cast<uint32_t>(v); }},
  {"limits.rooms_per_ip", value_form::integer, 0, 10000000,
   [](const config& c) -> int64_t { return c.rooms_per_ip; },
   [](config& c, int64_t v) { c.rooms_per_ip = static_cast<uint32_t>(v); }},
  {"limits.max_channel_length", value_form::integer, 1, 65536,
   [](const config& c) -> int64_t { return c.max_channel_length; },
   [](config& c, int64_t v) { c.max_channel_length = static_cast<uint32_t>(v); }},
  {"limits.max_user_id_length", value_form::integer, 1, 65536,
   [](const config& c) -> int64_t { return c.max_user_id_length; },
   [](config& c, int64_t v) { c.max_user_id_length = static_cast<uint32_t>(v); }},
  {"adapter.requests_timeout", value_form::duration, 10, k_minute,
   [](const config& c) -> int64_t { return c.adapter_requests_timeout_ms; },
   [](config& c, int64_t v) { c.adapter_requests_timeout_ms = static_cast<uint32_t>(v); }},
  // A room's history: 0 turns it off; past 100000 a `history` answer would be megabytes.
  {"history.max_messages", value_form::integer, 0, 100000,
   [](const config& c) -> int64_t { return c.history_max_messages; },
   [](config& c, int64_t v) { c.history_max_messages = static_cast<uint32_t>(v); }},
  {"history.max_age", value_form::duration, k_second, 30 * 24 * k_hour,
   [](const config& c) -> int64_t { return c.history_max_age_ms; },
   [](config& c, int64_t v) { c.history_max_age_ms = static_cast<uint32_t>(v); }},
  // Session records live this long after a disconnect; a day bounds what a crash leaves behind.
  {"recovery.max_disconnection", value_form::duration, k_second, 24 * k_hour,
   [](const config& c) -> int64_t { return c.recovery_max_disconnection_ms; },
   [](config& c, int64_t v) { c.recovery_max_disconnection_ms = static_cast<uint32_t>(v); }},
  {"recovery.max_entries", value_form::integer, 1000, 100000000,
   [](const config& c) -> int64_t { return c.recovery_max_entries; },
   [](config& c, int64_t v) { c.recovery_max_entries = static_cast<uint32_t>(v); }},
  {"auth.leeway", value_form::duration, 0, k_hour,
   [](const config& c) -> int64_t { return c.auth.policy.leeway_ms; },
   [](config& c, int64_t v) { c.auth.policy.leeway_ms = static_cast<uint32_t>(v); }},
  {"shutdown_timeout", value_form::duration, 0, k_hour,
   [](const config& c) -> int64_t { return c.shutdown_timeout_ms; },
   [](config& c, int64_t v) { c.shutdown_timeout_ms = static_cast<uint32_t>(v); }},
};
// clang-format on

// Keys whose value is text (or a list of text) and have their own check.
constexpr std::string_view k_text_keys[] = {"listen.address", "redis.url", "redis.key",
                                            "redis.mode", "redis.nodes",
                                            "engineio.allowed_origins", "engineio.echo_path",
                                            "log.level", "log.format",
                                            "adapter.serve_requests", "adapter.socket_rooms",
                                            "adapter.specific_response_channel",
                                            "adapter.subscription", "limits.message_rate_action",
                                            "auth.enabled",
                                            "auth.algorithms", "auth.secret_file",
                                            "auth.public_key_file", "auth.jwks_file",
                                            "auth.issuer", "auth.audience", "auth.user_claim",
                                            "auth.channels_claim", "auth.mismatched_user_id",
                                            "history.enabled", "recovery.enabled"};

constexpr std::string_view k_sections[] = {"listen", "redis", "engineio", "limits", "adapter", "namespaces",
                                           "auth", "history", "recovery", "log"};

// YAML 1.2's booleans (and the 1.1 spellings people still write).
std::optional<std::string> check_bool(std::string_view path, std::string_view text, bool& out) {
  if (text == "true" || text == "yes" || text == "on") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off") {
    out = false;
  } else {
    return fmt::format("{}: expected true or false, got '{}'", path, text);
  }
  return std::nullopt;
}

// One of two words: `out` is whether it is the first.
std::optional<std::string> check_choice(std::string_view path, std::string_view text,
                                        std::string_view first, std::string_view second, bool& out) {
  if (text != first && text != second) {
    return fmt::format("{}: expected {} or {}, got '{}'", path, first, second, text);
  }
  out = text == first;
  return std::nullopt;
}

const numeric_key* find_numeric_key(std::string_view path) {
  for (const numeric_key& k : k_numeric_keys) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

bool is_known_key(std::string_view path) {
  return find_numeric_key(path) != nullptr ||
         std::find(std::begin(k_text_keys), std::end(k_text_keys), path) != std::end(k_text_keys);
}

bool is_section(std::string_view name) {
  return std::find(std::begin(k_sections), std::end(k_sections), name) != std::end(k_sections);
}

// Every known path, sections included (a section's path is its name).
std::vector<std::string_view> all_paths() {
  std::vector<std::string_view> paths(std::begin(k_sections), std::end(k_sections));
  for (const numeric_key& k : k_numeric_keys) paths.push_back(k.path);
  paths.insert(paths.end(), std::begin(k_text_keys), std::end(k_text_keys));
  return paths;
}

std::string_view parent_of(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

std::string_view leaf_of(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string range_text(const numeric_key& k) {
  switch (k.form) {
    case value_form::duration:
      return fmt::format("between {} and {}", format_duration(k.min), format_duration(k.max));
    case value_form::size:
      if (k.max == UINT32_MAX) return fmt::format("at least {}", format_size(k.min));
      return fmt::format("between {} and {}", format_size(k.min), format_size(k.max));
    case value_form::integer:
      break;
  }
  return fmt::format("between {} and {}", k.min, k.max);
}

std::string format_value(const numeric_key& k, int64_t v) {
  switch (k.form) {
    case value_form::duration:
      return format_duration(v);
    case value_form::size:
      return format_size(v);
    case value_form::integer:
      break;
  }
  return std::to_string(v);
}

std::optional<std::string> check_range(const numeric_key& k, int64_t v, std::string_view shown) {
  if (v >= k.min && v <= k.max) return std::nullopt;
  return fmt::format("{}: must be {}, got '{}'", k.path, range_text(k), shown);
}

// ---------------------------------------------------------------------------------------------
// Checks of text values, shared by the loader and validate_config. Each returns the reason.

std::optional<std::string> check_listen_address(std::string_view text) {
  std::string s(text);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return std::nullopt;
  }
  return fmt::format(
      "listen.address: '{}' is not an IPv4 or IPv6 address (e.g. 0.0.0.0, 127.0.0.1, ::)", text);
}

std::optional<std::string> check_redis_key(std::string_view text) {
  if (text.empty()) return std::string("redis.key: must not be empty");
  if (text.find('#') != std::string_view::npos) {
    // The adapter builds channels as "<key>#<nsp>#<room>#": a '#' in the key would be ambiguous.
    return fmt::format("redis.key: must not contain '#', got '{}'", text);
  }
  return std::nullopt;
}

// The raw Engine.IO echo endpoint's path: empty (off), or a path of its own between slashes,
// matched exactly as /socket.io/ is (a request path never carries the query).
std::optional<std::string> check_echo_path(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.size() < 3 || text.front() != '/' || text.back() != '/') {
    return fmt::format("engineio.echo_path: expected a path such as /engine.io/ (a '/' at both "
                       "ends), got '{}'", text);
  }
  for (char ch : text) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f || ch == '?' || ch == '#' || ch == '%') {
      return fmt::format("engineio.echo_path: '{}' has a character a request path cannot match",
                         text);
    }
  }
  if (text == "/socket.io/") return std::string("engineio.echo_path: /socket.io/ is the Socket.IO endpoint");
  return std::nullopt;
}

std::optional<std::string> check_redis_url(std::string_view text) {
  auto parsed = parse_redis_url(text);
  if (parsed) return std::nullopt;
  // The URL itself is not repeated: it may hold a password.
  return fmt::format("redis.url: {}", parsed.error());
}

// An Origin header is "scheme://host[:port]" exactly; anything with a path (even a trailing '/')
// could never match one, so it is refused rather than silently ignored.
std::optional<std::string> check_origin(std::string_view text, size_t index) {
  if (text == "*") return std::nullopt;
  size_t sep = text.find("://");
  bool ok = sep != std::string_view::npos && sep > 0;
  if (ok) {
    for (size_t i = 0; i < sep; ++i) {
      char c = text[i];
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!(alpha || (i > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.')))) ok = false;
    }
    std::string_view authority = text.substr(sep + 3);
    if (authority.empty() || authority.find_first_of("/?#@ ") != std::string_view::npos) {
      ok = false;
    }
  }
  if (ok) return std::nullopt;
  return fmt::format(
      "engineio.allowed_origins[{}]: '{}' is not an origin: expected '*' or "
      "scheme://host[:port] without a path or trailing '/'",
      index, text);
}

std::optional<std::string> check_log_level(std::string_view text, log::level& out) {
  if (log::parse_level(text, out)) return std::nullopt;
  return fmt::format("log.level: expected one of {}, got '{}'", fmt::join(log::level_names, ", "),
                     text);
}

std::optional<std::string> check_log_format(std::string_view text, log::format& out) {
  if (log::parse_format(text, out)) return std::nullopt;
  return fmt::format("log.format: expected one of {}, got '{}'",
                     fmt::join(log::format_names, ", "), text);
}

// Optimal string alignment distance: a swapped pair ("prot" for "port") counts as one edit.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// "unknown key 'listen.prot'; did you mean 'port'?" A close name in the same section is offered
// first; failing that, the same name in another section (e.g. 'port' at the top level).
std::string unknown_key_reason(std::string_view section, std::string_view name) {
  std::string path = section.empty() ? std::string(name) : fmt::format("{}.{}", section, name);
  std::string reason = fmt::format("unknown key '{}'", path);
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  std::string_view elsewhere;
  for (std::string_view known : all_paths()) {
    std::string_view leaf = leaf_of(known);
    if (parent_of(known) == section) {
      size_t dist = edit_distance(name, leaf);
      size_t allowed = std::max<size_t>(1, leaf.size() / 3);
      if (dist <= allowed && dist < best_distance) {
        best = leaf;
        best_distance = dist;
      }
    } else if (leaf == name && elsewhere.empty()) {
      elsewhere = known;
    }
  }
  if (!best.empty()) {
    reason += fmt::format("; did you mean '{}'?", best);
  } else if (!elsewhere.empty() && parent_of(elsewhere).empty()) {
    reason += fmt::format("; '{}' belongs at the top level", elsewhere);
  } else if (!elsewhere.empty()) {
    reason += fmt::format("; did you mean '{}'?", elsewhere);
  }
  return reason;
}

// ---------------------------------------------------------------------------------------------
// The loader: walks the YAML tree in file order and stops at the first mistake.

int line_of(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 0; }

std::string describe_node(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

// Where a document starts and where its first node is: what the loader needs to refuse a second
// document with its line, without building it.
struct document_marks final : YAML::EventHandler {
  YAML::Mark start;
  YAML::Mark node;
  bool node_seen = false;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { saw(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { saw(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    saw(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    saw(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    saw(mark);
  }
  void OnMapEnd() override {}

 private:
  void saw(const YAML::Mark& mark) {
    if (!node_seen) node = mark;
    node_seen = true;
  }
};

// The character at `pos` for an error message: 'c' when printable ASCII, else its code.
std::string describe_char(const std::string& text, int pos) {
  if (pos < 0 || static_cast<size_t>(pos) >= text.size()) return "end of file";
  auto c = static_cast<unsigned char>(text[static_cast<size_t>(pos)]);
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
  return fmt::format("byte 0x{:02x}", c);
}

class loader {
 public:
  explicit loader(const std::string& name) : name_(name) {}

  expected<config, config_error> load(const std::string& text) {
    YAML::Node top;
    try {
      if (auto err = check_one_document(text)) return unexpected{std::move(*err)};
      top = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return unexpected{config_error{name_, line_of(e.mark), fmt::format("invalid YAML: {}", e.msg)}};
    }
    if (auto err = load_top(top)) return unexpected{std::move(*err)};
    // The key files, once every auth key is known (reported at the line of the key they concern).
    if (auto err = load_auth_keys(cfg_.auth)) {
      auto line = auth_lines_.find(err->key);
      return unexpected{config_error{name_, line == auth_lines_.end() ? 0 : line->second,
                                     std::move(err->reason)}};
    }
    // The per-key checks have passed; what is left are the rules across keys, and the URL parse.
    return validate_config(std::move(cfg_), name_);
  }

 private:
  config_error error_at(const YAML::Mark& mark, std::string reason) const {
    return config_error{name_, line_of(mark), std::move(reason)};
  }
  config_error fail(const YAML::Node& at, std::string reason) const {
    return error_at(at.Mark(), std::move(reason));
  }

  // A file holds one document. Not YAML::LoadAll: on some invalid input (a lone ",") yaml-cpp
  // 0.7's parser hands out the same empty document forever and LoadAll never returns, growing
  // memory (jbeder/yaml-cpp#1040, fixed upstream by #1319). The documents are walked here with
  // a parser that stops at the second one; a second that starts where the first did is that
  // case. Throws YAML::Exception for a syntax error, as YAML::Load does.
  std::optional<config_error> check_one_document(const std::string& text) const {
    std::istringstream in(text);
    YAML::Parser parser(in);
    document_marks first;
    document_marks second;
    if (!parser.HandleNextDocument(first) || !parser.HandleNextDocument(second)) return std::nullopt;
    if (second.start.pos == first.start.pos) {
      return error_at(second.start, fmt::format("invalid YAML: unexpected {}",
                                                describe_char(text, second.start.pos)));
    }
    return error_at(second.node_seen ? second.node : second.start,
                    "expected one YAML document, found a second one");
  }

  std::optional<config_error> load_top(const YAML::Node& top) {
    if (top.IsNull()) return std::nullopt;
    if (!top.IsMap()) {
      return fail(top, fmt::format("the top level must be a mapping of keys (listen:, redis:, ...), "
                                   "got {}",
                                   describe_node(top)));
    }
    return load_mapping(top, "");
  }

  // One mapping level: the top level (section "") or one section.
  std::optional<config_error> load_mapping(const YAML::Node& map, std::string_view section) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const YAML::Node& key = kv.first;
      const YAML::Node& value = kv.second;
      if (!key.IsScalar()) {
        return fail(key, fmt::format("expected a key name, got {}", describe_node(key)));
      }
      const std::string& name = key.Scalar();
      std::string path = section.empty() ? name : fmt::format("{}.{}", section, name);
      if (!seen.insert(name).second) {
        return fail(key, fmt::format("duplicate key '{}'", path));
      }
      if (section.empty() && name == "namespaces") {
        if (auto err = load_namespaces(cfg_, value)) {
          return config_error{name_, err->line, std::move(err->reason)};
        }
        continue;
      }
      if (section.empty() && is_section(name)) {
        if (value.IsNull()) continue;  // a section whose keys are all commented out
        if (!value.IsMap()) {
          return fail(value, fmt::format("{}: expected a mapping of keys, got {}", path,
                                         describe_node(value)));
        }
        if (auto err = load_mapping(value, name)) return err;
        continue;
      }
      if (!is_known_key(path)) return fail(key, unknown_key_reason(section, name));
      if (auto err = load_key(path, key, value)) return err;
    }
    return std::nullopt;
  }

  std::optional<config_error> load_key(const std::string& path, const YAML::Node& key,
                                       const YAML::Node& value) {
    // A null value's mark points at whatever follows it; the key's line is the useful one.
    const YAML::Mark mark = value.IsNull() ? key.Mark() : value.Mark();
    if (path.starts_with("auth.")) auth_lines_[std::string(leaf_of(path))] = line_of(mark);
    if (path == "engineio.allowed_origins") {
      cfg_.allowed_origins.clear();
      return load_list(value, path, "origins", [&](const std::string& item, size_t index) {
        if (auto reason = check_origin(item, index)) return reason;
        cfg_.allowed_origins.push_back(item);
        return std::optional<std::string>();
      });
    }
    if (path == "redis.nodes") {
      cfg_.redis_nodes.clear();
      return load_list(value, path, "redis:// URLs", [&](const std::string& item, size_t index) {
        auto parsed = parse_redis_url(item);
        if (!parsed) return std::optional<std::string>(fmt::format("redis.nodes[{}]: {}", index, parsed.error()));
        if (!parsed->unix_path.empty()) {
          return std::optional<std::string>(fmt::format(
              "redis.nodes[{}]: a cluster node is reached over TCP, not a Unix socket", index));
        }
        cfg_.redis_nodes.push_back(item);
        return std::optional<std::string>();
      });
    }
    if (path == "auth.algorithms") {
      cfg_.auth.policy.algorithms.clear();
      return load_list(value, path, "algorithms", [&](const std::string& item, size_t index) {
        return add_auth_algorithm(cfg_.auth, item, index);
      });
    }
    if (const numeric_key* k = find_numeric_key(path)) {
      if (!value.IsScalar()) {
        return error_at(mark, fmt::format("{}: expected {}, got {}", path, expected_text(*k),
                                          describe_node(value)));
      }
      const std::string& text = value.Scalar();
      int64_t v = 0;
      number_status st = k->form == value_form::integer ? parse_int64(trim(text), v)
                         : k->form == value_form::duration
                             ? parse_with_units(text, k_duration_units, v)
                             : parse_with_units(text, k_size_units, v);
      if (st == number_status::malformed) {
        return error_at(mark, fmt::format("{}: expected {}, got '{}'", path, expected_text(*k), text));
      }
      if (st == number_status::overflow) v = INT64_MAX;  // out of every range, reported below
      if (auto reason = check_range(*k, v, text)) return error_at(mark, std::move(*reason));
      k->set(cfg_, v);
      return std::nullopt;
    }
    if (!value.IsScalar()) {
      return error_at(mark, fmt::format("{}: expected a string, got {}", path, describe_node(value)));
    }
    const std::string& text = value.Scalar();
    std::optional<std::string> reason;
    if (path == "listen.address") {
      reason = check_listen_address(text);
      cfg_.listen_address = text;
    } else if (path == "redis.url") {
      reason = check_redis_url(text);
      cfg_.redis_url = text;
    } else if (path == "redis.mode") {
      reason = check_choice(path, text, "cluster", "standalone", cfg_.redis_cluster);
    } else if (path == "redis.key") {
      reason = check_redis_key(text);
      cfg_.redis_key = text;
    } else if (path == "engineio.echo_path") {
      reason = check_echo_path(text);
      cfg_.echo_path = text;
    } else if (path == "log.level") {
      reason = check_log_level(text, cfg_.log_level);
    } else if (path == "log.format") {
      reason = check_log_format(text, cfg_.log_format);
    } else if (path == "adapter.serve_requests") {
      reason = check_bool(path, text, cfg_.adapter_serve_requests);
    } else if (path == "adapter.socket_rooms") {
      reason = check_bool(path, text, cfg_.adapter_socket_rooms);
    } else if (path == "adapter.subscription") {
      reason = check_choice(path, text, "pattern", "rooms", cfg_.adapter_pattern_subscription);
    } else if (path == "adapter.specific_response_channel") {
      reason = check_bool(path, text, cfg_.adapter_specific_response_channel);
    } else if (path == "limits.message_rate_action") {
      reason = check_choice(path, text, "disconnect", "drop", cfg_.message_rate_disconnect);
    } else if (path == "auth.enabled") {
      reason = check_bool(path, text, cfg_.auth.enabled);
    } else if (path == "history.enabled") {
      reason = check_bool(path, text, cfg_.history_enabled);
    } else if (path == "recovery.enabled") {
      reason = check_bool(path, text, cfg_.recovery_enabled);
    } else if (path.starts_with("auth.")) {
      reason = set_auth_text(cfg_.auth, leaf_of(path), text);
    }
    if (reason) return error_at(mark, std::move(*reason));
    return std::nullopt;
  }

  // A list of strings (an absent or null value is an empty list); `add` checks and keeps each.
  template <class Add>
  std::optional<config_error> load_list(const YAML::Node& value, std::string_view path,
                                        std::string_view what, Add add) {
    if (value.IsNull()) return std::nullopt;  // every entry commented out
    if (!value.IsSequence()) {
      return fail(value, fmt::format("{}: expected a list of {}, got {}", path, what,
                                     describe_node(value)));
    }
    size_t index = 0;
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) {
        return fail(item, fmt::format("{}[{}]: expected a string, got {}", path, index,
                                      describe_node(item)));
      }
      if (auto reason = add(item.Scalar(), index)) return fail(item, std::move(*reason));
      ++index;
    }
    return std::nullopt;
  }

  static std::string expected_text(const numeric_key& k) {
    switch (k.form) {
      case value_form::duration:
        return "a duration (milliseconds, or a whole number with unit ms, s, m or h)";
      case value_form::size:
        return "a size (bytes, or a whole number with unit B, kB, KiB, MB, MiB, GB or GiB)";
      case value_form::integer:
        break;
    }
    return "an integer";
  }

  std::string name_;
  config cfg_;
  std::map<std::string, int, std::less<>> auth_lines_;  // auth.<leaf> -> its line, for key errors
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions: each catches at its boundary (yaml-cpp throws; allocation can).

int config::worker_count() const {
  if (workers > 0) return workers;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  // Same ceiling as an explicit `workers`, so a huge machine does not fork past what is tested.
  return static_cast<int>(std::clamp<long>(cpus, 1, k_max_workers));
}

std::string config_error::message() const {
  try {
    if (line > 0) return fmt::format("{}:{}: {}", file, line, reason);
    return fmt::format("{}: {}", file, reason);
  } catch (const std::exception&) {
    return reason;
  }
}

expected<config, config_error> load_config_string(const std::string& text, const std::string& name) {
  try {
    return loader(name).load(text);
  } catch (const std::exception& e) {
    return unexpected{config_error{name, 0, fmt::format("cannot load: {}", e.what())}};
  }
}

expected<config, config_error> load_config_file(const std::string& path) {
  // A config file is a few KiB; the cap keeps a wrong path (a device, a log) from being slurped.
  constexpr size_t k_max_file_size = 1024 * 1024;
  try {
    auto text = read_small_file(path, k_max_file_size);
    if (!text) {
      std::string reason = text.error();
      if (reason.starts_with("file is larger")) {
        reason = fmt::format("file is larger than {}; is this a config file?",
                             format_size(k_max_file_size));
      }
      return unexpected{config_error{path, 0, std::move(reason)}};
    }
    return load_config_string(*text, path);
  } catch (const std::exception& e) {
    return unexpected{config_error{path, 0, fmt::format("cannot load: {}", e.what())}};
  }
}

expected<config, config_error> validate_config(config c, const std::string& source) {
  try {
    auto fail = [&](std::string reason) {
      return unexpected{config_error{source, 0, std::move(reason)}};
    };
    for (const numeric_key& k : k_numeric_keys) {
      int64_t v = k.get(c);
      if (auto reason = check_range(k, v, format_value(k, v))) return fail(std::move(*reason));
    }
    if (auto reason = check_listen_address(c.listen_address)) return fail(std::move(*reason));
    if (auto reason = check_redis_key(c.redis_key)) return fail(std::move(*reason));
    for (size_t i = 0; i < c.allowed_origins.size(); ++i) {
      if (auto reason = check_origin(c.allowed_origins[i], i)) return fail(std::move(*reason));
    }
    if (auto reason = check_echo_path(c.echo_path)) return fail(std::move(*reason));
    int level = static_cast<int>(c.log_level);
    if (level < 0 || level >= static_cast<int>(log::level_names.size())) {
      return fail(fmt::format("log.level: {} is not a log level", level));
    }
    int format = static_cast<int>(c.log_format);
    if (format < 0 || format >= static_cast<int>(log::format_names.size())) {
      return fail(fmt::format("log.format: {} is not a log format", format));
    }
    // Heartbeats: ranges already demand both be positive; a zero would mean a timer that fires
    // continuously, so it is stated here too in case the ranges are ever widened.
    if (c.ping_interval_ms == 0 || c.ping_timeout_ms == 0) {
      return fail("engineio.ping_interval and engineio.ping_timeout must both be positive");
    }
    if (auto err = resolve_namespaces(c)) {
      return unexpected{config_error{source, err->line, std::move(err->reason)}};
    }
    auto endpoint = parse_redis_url(c.redis_url);
    if (!endpoint) return fail(fmt::format("redis.url: {}", endpoint.error()));
    c.redis = std::move(*endpoint);
    c.redis_seeds.clear();
    if (c.redis_cluster) {
      if (c.redis_nodes.empty()) {
        if (!c.redis.unix_path.empty()) {
          return fail("redis.mode: cluster needs TCP seed nodes (redis.nodes), redis.url is a Unix socket");
        }
        c.redis_seeds.push_back(c.redis);
      }
      for (size_t i = 0; i < c.redis_nodes.size(); ++i) {
        auto seed = parse_redis_url(c.redis_nodes[i]);
        if (!seed) return fail(fmt::format("redis.nodes[{}]: {}", i, seed.error()));
        c.redis_seeds.push_back(std::move(*seed));
      }
      // The recorded broadcast is one Lua script over the namespace's stream, the room's history
      // and the PUBLISH: keys in different slots, which a cluster refuses (CROSSSLOT).
      if (c.recovery_enabled) {
        return fail("recovery.enabled: connection state recovery needs redis.mode: standalone "
                    "(its script spans keys in different cluster slots)");
      }
    }
    return c;
  } catch (const std::exception& e) {
    return unexpected{config_error{source, 0, fmt::format("cannot validate: {}", e.what())}};
  }
}

}  // namespace chatd
