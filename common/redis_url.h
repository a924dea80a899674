#pragma once
// Where Redis is, from the redis.url setting: the endpoint struct, its URL parser and its log form.

#include "common/expected.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd {

// Where Redis is: "redis://[:password@]host[:port][/db]" or "unix:///path/to/redis.sock".
struct redis_endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string unix_path;  // non-empty: connect over this Unix socket instead of TCP
  std::string password;   // empty: no AUTH
  int db = 0;             // pub/sub ignores the db, but SELECT is sent for completeness

  // Back to URL form, password masked; for logs.
  std::string describe() const;
};

// Parses a Redis URL; the error says what is wrong with it.
expected<redis_endpoint> parse_redis_url(std::string_view url);

}  // namespace chatd
