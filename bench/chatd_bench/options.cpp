// chatd-bench command-line parsing and help text.

#include "bench/chatd_bench/options.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace chatd::bench {

namespace {

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::optional<in_addr> parse_ipv4(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::string z(s);
  in_addr a{};
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return a;
}

sockaddr_storage ipv4_sockaddr(uint32_t host_order, uint16_t port) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(host_order);
  sin->sin_port = htons(port);
  return ss;
}

// Range of source addresses accepted at once: far more than anyone needs for ports, small enough
// that a typo cannot allocate gigabytes.
constexpr uint32_t max_source_addresses = 65536;

}  // namespace

std::optional<target> parse_target(std::string_view text) {
  for (std::string_view scheme : {"ws://", "http://"}) {
    if (text.starts_with(scheme)) text.remove_prefix(scheme.size());
  }
  while (text.ends_with('/')) text.remove_suffix(1);
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  auto port = parse_number<uint32_t>(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  target t;
  if (host.starts_with('[') && host.ends_with(']')) {
    std::string h(host.substr(1, host.size() - 2));
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(*port));
    if (inet_pton(AF_INET6, h.c_str(), &sin6->sin6_addr) != 1) return std::nullopt;
  } else {
    auto a = parse_ipv4(host == "localhost" ? std::string_view("127.0.0.1") : host);
    if (!a) return std::nullopt;
    t.addr = ipv4_sockaddr(ntohl(a->s_addr), static_cast<uint16_t>(*port));
  }
  t.host_header = std::string(text);
  return t;
}

std::optional<std::vector<sockaddr_storage>> parse_sources(std::string_view text) {
  std::vector<sockaddr_storage> out;
  for (std::string_view item : split(text, ',')) {
    size_t dash = item.find('-');
    std::string_view first_text = item.substr(0, dash);
    auto first = parse_ipv4(first_text);
    if (!first) return std::nullopt;
    uint32_t lo = ntohl(first->s_addr);
    uint32_t hi = lo;
    if (dash != std::string_view::npos) {
      std::string_view last_text = item.substr(dash + 1);
      if (auto last = parse_ipv4(last_text)) {
        hi = ntohl(last->s_addr);
      } else if (auto octet = parse_number<uint32_t>(last_text); octet && *octet <= 255) {
        hi = (lo & 0xFFFFFF00u) | *octet;  // "127.0.0.1-40"
      } else {
        return std::nullopt;
      }
    }
    if (hi < lo || hi - lo >= max_source_addresses ||
        out.size() + (hi - lo) >= max_source_addresses) {
      return std::nullopt;
    }
    for (uint32_t a = lo;; ++a) {
      out.push_back(ipv4_sockaddr(a, 0));
      if (a == hi) break;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string usage() {
  return R"(chatd-bench: load generator for Socket.IO v4 servers (WebSocket transport)

Usage: chatd-bench [options]

Clients connect to GET <path>?EIO=4&transport=websocket&channel=<room>&userId=<id>, send the
Socket.IO CONNECT and answer pings. Senders emit
  42["message",{"userId":..,"channel":..,"body":"xx..","t":<µs>,"seq":N}]
and every member records `chat` deliveries and their latency (now - t, CLOCK_MONOTONIC).
Expected deliveries = sent x (connected members of the room - 1).

Modes (default: fan-out)
  --idle                   connect every client and hold them for --duration, sending nothing
  --storm                  connect every client as fast as --connect-concurrency allows and
                           report completed handshakes per second

Servers and clients
  --url LIST               comma list of host:port (ws:// or http:// allowed); clients are
                           assigned round-robin, so a room spans every target [127.0.0.1:8000]
  --path PATH              Engine.IO path [/socket.io/]
  --source-addrs LIST      bind clients to these source addresses, round-robin: comma list of
                           IPv4 addresses and ranges (127.0.0.1-127.0.0.40 or 127.0.0.1-40);
                           needed past ~28k connections to one target
  --rooms R                rooms [20]
  --members C              clients per room [50]
  --senders S              senders per room, among its members [1]
  --room-prefix P          rooms are named P-<n> [bench]

Load (fan-out mode)
  --rate N                 messages per second over all senders, paced by a timer with
                           catch-up; 0: as fast as acknowledgements allow [1000]
  --inflight N             at --rate 0: unacknowledged messages per sender (emit with ack) [16]
  --payload BYTES          size of the message packet, reached by padding the body [128]
  --warmup S               seconds of sending before counting starts [2]
  --duration S             seconds counted (fan-out), or held (idle) [10]
  --drain MS               wait after the last send before counting stops [2000]

Connections and processes
  --connect-concurrency N  handshakes in progress at once, over all processes [500]
  --connect-timeout MS     TCP connect to Socket.IO CONNECT reply, per client [10000]
  --max-connect-time S     bound of the whole connect phase; clients not connected by then
                           count as failed [60]
  --procs P                generator processes (each with its own event loop and open-file
                           limit), clients split round-robin [1]

Output
  --server-pids LIST       comma list of server pids: report their RSS (with their children)
                           at the end, per connection, and their CPU time during the run
  --json                   print the summary as one JSON object on stdout (text to stderr)
  --quiet                  no progress line every second
  --help                   this text

Exit status: 0 when the run completed, 1 when it could not (setup error, a generator process
died, the hard deadline hit), 2 on a usage error.
)";
}

std::variant<options, parse_failure> parse_options(int argc, const char* const* argv) {
  options o;
  bool have_url = false;
  auto fail = [](std::string msg) { return parse_failure{std::move(msg) + " (see --help)", true}; };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto takes_value = [&]() -> bool {
      if (!value.empty() || std::string_view(argv[i]).find('=') != std::string_view::npos) {
        return true;
      }
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    auto uint_arg = [&](uint32_t& dst, uint32_t min, uint32_t max) -> std::optional<std::string> {
      if (!takes_value()) return fmt::format("{} needs a value", arg);
      auto v = parse_number<uint32_t>(value);
      if (!v || *v < min || *v > max) {
        return fmt::format("{} wants an integer from {} to {}, not '{}'", arg, min, max, value);
      }
      dst = *v;
      return std::nullopt;
    };
    auto double_arg = [&](double& dst, double min, double max) -> std::optional<std::string> {
      if (!takes_value()) return fmt::format("{} needs a value", arg);
      auto v = parse_number<double>(value);
      if (!v || !(*v >= min) || !(*v <= max)) {
        return fmt::format("{} wants a number from {} to {}, not '{}'", arg, min, max, value);
      }
      dst = *v;
      return std::nullopt;
    };
    std::optional<std::string> err;
    if (arg == "--help" || arg == "-h") {
      return parse_failure{usage(), false};
    } else if (arg == "--idle") {
      o.mode = run_mode::idle;
    } else if (arg == "--storm") {
      o.mode = run_mode::storm;
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else if (arg == "--url") {
      if (!takes_value()) return fail("--url needs a value");
      if (!have_url) o.targets.clear();
      have_url = true;
      for (std::string_view item : split(value, ',')) {
        auto t = parse_target(item);
        if (!t) return fail(fmt::format("--url: '{}' is not host:port", item));
        o.targets.push_back(std::move(*t));
      }
    } else if (arg == "--path") {
      if (!takes_value() || !value.starts_with('/')) return fail("--path wants a path starting with '/'");
      o.path = std::string(value);
    } else if (arg == "--source-addrs") {
      if (!takes_value()) return fail("--source-addrs needs a value");
      auto s = parse_sources(value);
      if (!s) return fail(fmt::format("--source-addrs: cannot read '{}'", value));
      o.sources = std::move(*s);
    } else if (arg == "--room-prefix") {
      if (!takes_value() || value.empty()) return fail("--room-prefix needs a value");
      for (char c : value) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
          return fail("--room-prefix: letters, digits, '-', '_' and '.' only");
        }
      }
      o.room_prefix = std::string(value);
    } else if (arg == "--rooms") {
      err = uint_arg(o.rooms, 1, 10'000'000);
    } else if (arg == "--members") {
      err = uint_arg(o.members, 1, 10'000'000);
    } else if (arg == "--senders") {
      err = uint_arg(o.senders, 0, 10'000'000);
    } else if (arg == "--rate") {
      err = double_arg(o.rate, 0, 1e9);
    } else if (arg == "--inflight") {
      err = uint_arg(o.inflight, 1, 1'000'000);
    } else if (arg == "--payload") {
      err = uint_arg(o.payload, 1, 64 * 1024 * 1024);
    } else if (arg == "--duration") {
      err = double_arg(o.duration_s, 0, 86400);
    } else if (arg == "--warmup") {
      err = double_arg(o.warmup_s, 0, 86400);
    } else if (arg == "--drain") {
      err = uint_arg(o.drain_ms, 0, 3'600'000);
    } else if (arg == "--connect-concurrency") {
      err = uint_arg(o.connect_concurrency, 1, 1'000'000);
    } else if (arg == "--connect-timeout") {
      err = uint_arg(o.connect_timeout_ms, 1, 3'600'000);
    } else if (arg == "--max-connect-time") {
      err = double_arg(o.max_connect_s, 0.001, 86400);
    } else if (arg == "--procs") {
      err = uint_arg(o.procs, 1, 256);
    } else if (arg == "--server-pids") {
      if (!takes_value()) return fail("--server-pids needs a value");
      for (std::string_view item : split(value, ',')) {
        auto pid = parse_number<int>(item);
        if (!pid || *pid <= 0) return fail(fmt::format("--server-pids: '{}' is not a pid", item));
        o.server_pids.push_back(*pid);
      }
    } else {
      return fail(fmt::format("unknown option '{}'", argv[i]));
    }
    if (err) return fail(*err);
  }
  if (o.targets.empty()) o.targets.push_back(*parse_target("127.0.0.1:8000"));
  if (o.senders > o.members) {
    return fail(fmt::format("--senders {} is more than --members {}", o.senders, o.members));
  }
  if (o.clients() > 100'000'000) return fail("--rooms x --members is more than 100 million clients");
  if (!o.sources.empty()) {
    for (const target& t : o.targets) {
      if (t.addr.ss_family != AF_INET) return fail("--source-addrs are IPv4: every --url must be IPv4 too");
    }
  }
  return o;
}

}  // namespace chatd::bench
