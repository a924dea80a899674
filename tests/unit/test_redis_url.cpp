// common/redis_url: every URL form chatd accepts, each refusal's message, and the masked log form.

#include "common/redis_url.h"

#include <doctest/doctest.h>

#include <string>

using namespace chatd;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

redis_endpoint url_ok(const std::string& url) {
  auto r = parse_redis_url(url);
  INFO(url);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error()));
  return *r;
}

std::string url_error(const std::string& url) {
  auto r = parse_redis_url(url);
  INFO(url);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

}  // namespace

TEST_CASE("a redis url with only a host takes the default port and db") {
  redis_endpoint ep = url_ok("redis://cache.local");
  CHECK(ep.host == "cache.local");
  CHECK(ep.port == 6379);
  CHECK(ep.db == 0);
  CHECK(ep.password.empty());
  CHECK(ep.unix_path.empty());
}

TEST_CASE("a redis url with host, port and db") {
  redis_endpoint ep = url_ok("redis://10.1.2.3:6380/5");
  CHECK(ep.host == "10.1.2.3");
  CHECK(ep.port == 6380);
  CHECK(ep.db == 5);
}

TEST_CASE("a redis url with a trailing slash means db 0") {
  CHECK(url_ok("redis://h:1/").db == 0);
}

TEST_CASE("a redis url with a password") {
  redis_endpoint ep = url_ok("redis://:secret@h:6379");
  CHECK(ep.password == "secret");
  CHECK(ep.host == "h");
}

TEST_CASE("a redis url with the default user and a password") {
  CHECK(url_ok("redis://default:secret@h").password == "secret");
}

TEST_CASE("a redis url with another user is refused") {
  CHECK(contains(url_error("redis://alice:secret@h"), "user 'alice' is not supported"));
}

TEST_CASE("a redis url password is percent-decoded") {
  CHECK(url_ok("redis://:p%40ss%3Aw%2Fd%25@h").password == "p@ss:w/d%");
}

TEST_CASE("a redis url password may hold an unescaped '@'") {
  CHECK(url_ok("redis://:a@b@h").password == "a@b");
}

TEST_CASE("a redis url with a bad percent-escape is refused") {
  CHECK(contains(url_error("redis://:p%4@h"), "bad percent-escape in the password"));
  CHECK(contains(url_error("redis://:p%zz@h"), "bad percent-escape in the password"));
}

TEST_CASE("a redis url with credentials but no ':' is refused") {
  CHECK(contains(url_error("redis://secret@h"), "credentials must be written"));
}

TEST_CASE("a redis url with an IPv6 host in brackets") {
  redis_endpoint ep = url_ok("redis://[::1]:6390/1");
  CHECK(ep.host == "::1");
  CHECK(ep.port == 6390);
  CHECK(ep.db == 1);
  CHECK(url_ok("redis://[fe80::2]").port == 6379);
}

TEST_CASE("a redis url with an IPv6 host without brackets is refused") {
  CHECK(contains(url_error("redis://::1:6379"), "IPv6 addresses must be in brackets"));
}

TEST_CASE("a redis url with an unclosed bracket is refused") {
  CHECK(url_error("redis://[::1:6379") == "missing ']' after the IPv6 address");
}

TEST_CASE("a redis url with a bracketed non-IPv6 host is refused") {
  CHECK(url_error("redis://[foo]:1") == "'foo' is not an IPv6 address");
}

TEST_CASE("a redis url with garbage after the bracket is refused") {
  CHECK(contains(url_error("redis://[::1]x"), "unexpected 'x' after the IPv6 address"));
}

TEST_CASE("a redis url without a host is refused") {
  CHECK(contains(url_error("redis://"), "missing host"));
  CHECK(contains(url_error("redis://:6379"), "missing host"));
  CHECK(contains(url_error("redis://:pw@/0"), "missing host"));
}

TEST_CASE("a redis url with an empty port is refused") {
  CHECK(url_error("redis://h:") == "missing port after ':'");
}

TEST_CASE("a redis url with a non-numeric port is refused") {
  CHECK(url_error("redis://h:abc") == "port 'abc' is not a number");
  CHECK(url_error("redis://h:-1") == "port '-1' is not a number");
}

TEST_CASE("a redis url with a port out of range is refused") {
  CHECK(url_error("redis://h:0") == "port 0 is out of range (1-65535)");
  CHECK(url_error("redis://h:65536") == "port 65536 is out of range (1-65535)");
}

TEST_CASE("a redis url with a bad db is refused") {
  CHECK(url_error("redis://h/abc") == "database 'abc' is not a non-negative integer");
  CHECK(url_error("redis://h/-1") == "database '-1' is not a non-negative integer");
}

TEST_CASE("a redis url with a longer path is refused") {
  CHECK(contains(url_error("redis://h/0/x"), "unexpected path '/0/x'"));
}

TEST_CASE("a redis url with a query is refused") {
  CHECK(contains(url_error("redis://h:1?db=2"), "redis:// URLs take no query"));
}

TEST_CASE("a redis url with a bad host character is refused") {
  CHECK(url_error("redis://ho st") == "invalid character in host 'ho st'");
}

TEST_CASE("an empty redis url is refused") { CHECK(contains(url_error(""), "empty URL")); }

TEST_CASE("a redis url without a scheme is refused") {
  CHECK(contains(url_error("127.0.0.1:6379"), "no scheme"));
}

TEST_CASE("a redis url with another scheme is refused") {
  CHECK(contains(url_error("http://h"), "unsupported scheme 'http'"));
}

TEST_CASE("a rediss url says TLS is not supported") {
  CHECK(url_error("rediss://h") == "TLS (rediss://) is not supported");
}

TEST_CASE("a unix url gives the socket path") {
  redis_endpoint ep = url_ok("unix:///run/redis/redis.sock");
  CHECK(ep.unix_path == "/run/redis/redis.sock");
  CHECK(ep.db == 0);
}

TEST_CASE("a unix url takes db as a query parameter") {
  redis_endpoint ep = url_ok("unix:///tmp/r.sock?db=4");
  CHECK(ep.unix_path == "/tmp/r.sock");
  CHECK(ep.db == 4);
}

TEST_CASE("a unix url takes a percent-decoded password parameter") {
  redis_endpoint ep = url_ok("unix:///tmp/r.sock?db=1&password=a%26b");
  CHECK(ep.password == "a&b");
  CHECK(ep.db == 1);
}

TEST_CASE("a unix url with a relative path is refused") {
  CHECK(contains(url_error("unix://tmp/r.sock"), "must be absolute"));
}

TEST_CASE("a unix url without a path is refused") {
  CHECK(contains(url_error("unix://"), "missing socket path"));
}

TEST_CASE("a unix url with an unknown parameter is refused") {
  CHECK(contains(url_error("unix:///tmp/r.sock?timeout=5"), "unknown parameter 'timeout'"));
}

TEST_CASE("a unix url with a bad db is refused") {
  CHECK(url_error("unix:///tmp/r.sock?db=x") == "database 'x' is not a non-negative integer");
}

TEST_CASE("a unix url with a path too long for sockaddr_un is refused") {
  CHECK(contains(url_error("unix:///" + std::string(200, 'a')), "socket path is longer than"));
}

TEST_CASE("describe masks the password") {
  redis_endpoint ep = url_ok("redis://:secret@h:6380/2");
  CHECK(ep.describe() == "redis://:***@h:6380/2");
}

TEST_CASE("describe without a password is the plain url") {
  CHECK(url_ok("redis://127.0.0.1").describe() == "redis://127.0.0.1:6379");
}

TEST_CASE("describe brackets an IPv6 host") {
  CHECK(url_ok("redis://[::1]:7000").describe() == "redis://[::1]:7000");
}

TEST_CASE("describe of a unix endpoint masks the password") {
  CHECK(url_ok("unix:///tmp/r.sock?db=2&password=x").describe() ==
        "unix:///tmp/r.sock?db=2&password=***");
}
