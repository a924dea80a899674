// bench/chatd_bench/options: the command line, including malformed values.

#include "bench/chatd_bench/options.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <variant>
#include <vector>

using namespace chatd::bench;

namespace {

std::variant<options, parse_failure> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "chatd-bench");
  return parse_options(static_cast<int>(args.size()), args.data());
}

std::string ipv4_of(const sockaddr_storage& ss) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof buf);
  return buf;
}

uint16_t port_of(const sockaddr_storage& ss) {
  return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
}

}  // namespace

TEST_CASE("no arguments give the defaults") {
  auto r = parse({});
  REQUIRE(std::holds_alternative<options>(r));
  const options& o = std::get<options>(r);
  CHECK(o.rooms == 20);
  CHECK(o.members == 50);
  CHECK(o.clients() == 1000);
  REQUIRE(o.targets.size() == 1);
  CHECK(ipv4_of(o.targets[0].addr) == "127.0.0.1");
  CHECK(port_of(o.targets[0].addr) == 8000);
  CHECK(o.mode == run_mode::fanout);
}

TEST_CASE("a list of urls becomes targets in order, with schemes and slashes ignored") {
  auto r = parse({"--url", "127.0.0.1:9001,ws://127.0.0.2:9002/,http://localhost:9003"});
  REQUIRE(std::holds_alternative<options>(r));
  const auto& t = std::get<options>(r).targets;
  REQUIRE(t.size() == 3);
  CHECK(port_of(t[0].addr) == 9001);
  CHECK(ipv4_of(t[1].addr) == "127.0.0.2");
  CHECK(ipv4_of(t[2].addr) == "127.0.0.1");
  CHECK(t[2].host_header == "localhost:9003");
}

TEST_CASE("an IPv6 target in brackets is accepted") {
  auto t = parse_target("[::1]:8000");
  REQUIRE(t.has_value());
  CHECK(t->addr.ss_family == AF_INET6);
}

TEST_CASE("malformed targets are refused") {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
                          "host.example:80", "[::1:80", "1.2.3:80"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_target(bad).has_value());
  }
}

TEST_CASE("a source range expands to every address in it") {
  auto s = parse_sources("127.0.0.1-127.0.0.40");
  REQUIRE(s.has_value());
  REQUIRE(s->size() == 40);
  CHECK(ipv4_of(s->front()) == "127.0.0.1");
  CHECK(ipv4_of(s->back()) == "127.0.0.40");
}

TEST_CASE("a source range may give only the last octet, and lists combine") {
  auto s = parse_sources("127.0.0.1-3,127.0.1.9");
  REQUIRE(s.has_value());
  REQUIRE(s->size() == 4);
  CHECK(ipv4_of((*s)[2]) == "127.0.0.3");
  CHECK(ipv4_of((*s)[3]) == "127.0.1.9");
}

TEST_CASE("malformed or reversed source ranges are refused") {
  for (const char* bad : {"", "127.0.0.5-127.0.0.1", "127.0.0.1-x", "127.0.0.1-300", "10.0.0.0-10.255.255.255", ","}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_sources(bad).has_value());
  }
}

TEST_CASE("numbers are read in both --flag value and --flag=value forms") {
  auto r = parse({"--rooms=3", "--members", "7", "--senders=2", "--rate", "0", "--duration", "1.5",
                  "--procs", "2", "--idle", "--json", "--server-pids", "10,20"});
  REQUIRE(std::holds_alternative<options>(r));
  const options& o = std::get<options>(r);
  CHECK(o.rooms == 3);
  CHECK(o.members == 7);
  CHECK(o.senders == 2);
  CHECK(o.rate == 0);
  CHECK(o.duration_s == 1.5);
  CHECK(o.procs == 2);
  CHECK(o.mode == run_mode::idle);
  CHECK(o.json);
  CHECK(o.server_pids == std::vector<int>{10, 20});
}

TEST_CASE("bad values and unknown flags are usage errors that name the flag") {
  const std::vector<std::vector<const char*>> bad = {
      {"--rooms", "0"},         {"--rooms", "ten"},     {"--members"},
      {"--rate", "-1"},         {"--procs", "1000"},    {"--bogus"},
      {"--server-pids", "1,x"}, {"--path", "nopath"},   {"--senders", "60"},
      {"--room-prefix", "a b"}, {"--connect-timeout", "0"}};
  for (const auto& args : bad) {
    CAPTURE(args[0]);
    auto r = parse(args);
    REQUIRE(std::holds_alternative<parse_failure>(r));
    CHECK(std::get<parse_failure>(r).is_error);
  }
  auto r = parse({"--rooms", "ten"});
  CHECK(std::get<parse_failure>(r).text.find("--rooms") != std::string::npos);
}

TEST_CASE("--help is not an error") {
  auto r = parse({"--help"});
  REQUIRE(std::holds_alternative<parse_failure>(r));
  CHECK_FALSE(std::get<parse_failure>(r).is_error);
  CHECK(std::get<parse_failure>(r).text.find("--source-addrs") != std::string::npos);
}

TEST_CASE("source addresses with an IPv6 target are refused") {
  auto r = parse({"--url", "[::1]:8000", "--source-addrs", "127.0.0.1"});
  CHECK(std::holds_alternative<parse_failure>(r));
}
