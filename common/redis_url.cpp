// Redis URLs: "redis://[[user]:password@]host[:port][/db]" (IPv6 hosts in brackets) and
// "unix:///path[?db=N&password=P]" parsed into an endpoint, each refusal saying what is wrong;
// and the endpoint back to a URL for logs with the password masked.

#include "common/redis_url.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <exception>
#include <optional>

#include "common/hex.h"

namespace chatd {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A non-empty run of decimal digits that fits int64_t (no sign, no blanks).
bool parse_digits(std::string_view text, int64_t& out) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}


// Percent-decodes `in`; `what` names the part for the error.
expected<std::string> percent_decode(std::string_view in, std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    int byte = hex_byte(in, i + 1);
    if (byte < 0) {
      return unexpected{fmt::format("bad percent-escape in the {} (expected %XX with two hex digits)",
                                    what)};
    }
    out.push_back(static_cast<char>(byte));
    i += 2;
  }
  return out;
}

std::optional<std::string> parse_db(std::string_view text, int& out) {
  int64_t v = 0;
  if (text.empty() || text.front() == '-' || text.front() == '+' ||
      !parse_digits(text, v) || v > INT_MAX) {
    return fmt::format("database '{}' is not a non-negative integer", text);
  }
  out = static_cast<int>(v);
  return std::nullopt;
}

constexpr std::string_view k_url_forms =
    "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]";

expected<redis_endpoint> parse_unix_url(std::string_view rest) {
  redis_endpoint ep;
  ep.host.clear();
  ep.port = 0;
  std::string_view path = rest;
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }
  if (path.empty()) return unexpected{std::string("missing socket path (unix:///path/to/redis.sock)")};
  if (path.front() != '/') {
    return unexpected{std::string(
        "the socket path must be absolute: unix:///path (three slashes), not unix://path")};
  }
  auto decoded = percent_decode(path, "socket path");
  if (!decoded) return unexpected{decoded.error()};
  if (decoded->size() >= sizeof(sockaddr_un{}.sun_path)) {
    return unexpected{fmt::format("the socket path is longer than {} bytes",
                                  sizeof(sockaddr_un{}.sun_path) - 1)};
  }
  ep.unix_path = std::move(*decoded);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (name == "db") {
      if (auto reason = parse_db(value, ep.db)) return unexpected{std::move(*reason)};
    } else if (name == "password") {
      auto pw = percent_decode(value, "password");
      if (!pw) return unexpected{pw.error()};
      ep.password = std::move(*pw);
    } else {
      return unexpected{fmt::format("unknown parameter '{}' (unix URLs take db and password)", name)};
    }
  }
  return ep;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
         c == '.' || c == '_';
}

expected<redis_endpoint> parse_tcp_url(std::string_view rest) {
  redis_endpoint ep;
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);

  // The last '@' ends the credentials, so an unescaped '@' in a password still works.
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return unexpected{std::string(
          "credentials must be written ':password@' or 'user:password@' (no ':' found)")};
    }
    auto user = percent_decode(userinfo.substr(0, colon), "user name");
    if (!user) return unexpected{user.error()};
    // The endpoint has no user field: only Redis' default user (plain AUTH password) is possible.
    if (!user->empty() && *user != "default") {
      return unexpected{fmt::format(
          "user '{}' is not supported: chatd authenticates as the default user only (:password@)",
          *user)};
    }
    auto password = percent_decode(userinfo.substr(colon + 1), "password");
    if (!password) return unexpected{password.error()};
    ep.password = std::move(*password);
  }

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return unexpected{std::string("missing ']' after the IPv6 address")};
    }
    host = authority.substr(1, close - 1);
    std::string h(host);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET6, h.c_str(), buf) != 1) {
      return unexpected{fmt::format("'{}' is not an IPv6 address", host)};
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return unexpected{fmt::format("unexpected '{}' after the IPv6 address", after)};
      }
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return unexpected{std::string("IPv6 addresses must be in brackets, e.g. redis://[::1]:6379")};
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (!host.empty() && !std::all_of(host.begin(), host.end(), is_host_char)) {
      return unexpected{fmt::format("invalid character in host '{}'", host)};
    }
  }
  if (host.empty()) return unexpected{fmt::format("missing host ({})", k_url_forms)};
  ep.host = std::string(host);

  if (has_port) {
    int64_t port = 0;
    if (port_text.empty()) return unexpected{std::string("missing port after ':'")};
    if (!parse_digits(port_text, port)) {
      return unexpected{fmt::format("port '{}' is not a number", port_text)};
    }
    if (port < 1 || port > 65535) {
      return unexpected{fmt::format("port {} is out of range (1-65535)", port_text)};
    }
    ep.port = static_cast<uint16_t>(port);
  }

  if (!tail.empty() && tail.front() != '/') {
    return unexpected{fmt::format("unexpected '{}': redis:// URLs take no query or fragment", tail)};
  }
  if (tail.size() > 1) {
    std::string_view db = tail.substr(1);
    if (db.find('/') != std::string_view::npos || db.find_first_of("?#") != std::string_view::npos) {
      return unexpected{fmt::format("unexpected path '{}': only a database number may follow the "
                                    "host (/db)",
                                    tail)};
    }
    if (auto reason = parse_db(db, ep.db)) return unexpected{std::move(*reason)};
  }
  return ep;
}

expected<redis_endpoint> parse_redis_url_unchecked(std::string_view url) {
  constexpr std::string_view redis_scheme = "redis://";
  constexpr std::string_view unix_scheme = "unix://";
  if (url.empty()) return unexpected{fmt::format("empty URL ({})", k_url_forms)};
  if (url.starts_with(unix_scheme)) return parse_unix_url(url.substr(unix_scheme.size()));
  if (url.starts_with(redis_scheme)) return parse_tcp_url(url.substr(redis_scheme.size()));
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return unexpected{fmt::format("no scheme ({})", k_url_forms)};
  std::string_view scheme = url.substr(0, sep);
  if (scheme == "rediss") return unexpected{std::string("TLS (rediss://) is not supported")};
  return unexpected{fmt::format("unsupported scheme '{}' ({})", scheme, k_url_forms)};
}

}  // namespace

// The one public entry catches at its boundary: only allocation can throw here.
expected<redis_endpoint> parse_redis_url(std::string_view url) {
  try {
    return parse_redis_url_unchecked(url);
  } catch (const std::exception& e) {
    return unexpected{fmt::format("cannot parse the URL: {}", e.what())};
  }
}

std::string redis_endpoint::describe() const {
  try {
    if (!unix_path.empty()) {
      std::string out = "unix://" + unix_path;
      char sep = '?';
      if (db != 0) {
        out += fmt::format("{}db={}", sep, db);
        sep = '&';
      }
      if (!password.empty()) out += fmt::format("{}password=***", sep);
      return out;
    }
    std::string h = host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host;
    return fmt::format("redis://{}{}:{}{}", password.empty() ? "" : ":***@", h, port,
                       db != 0 ? fmt::format("/{}", db) : std::string());
  } catch (const std::exception&) {
    return "redis://?";  // only allocation can fail here; a log line must not throw
  }
}

}  // namespace chatd
