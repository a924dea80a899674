// The master's listening sockets: the SO_REUSEPORT group's order is the order sockets were
// opened, retiring from the end keeps the order of the rest, and the steering program keeps new
// connections off retiring sockets (daemon/listeners.h relies on all three).

// daemon/ is linked into the chatd executable only; the unit binary compiles the one daemon file
// it tests here instead (tests/CMakeLists.txt globs tests/unit/*.cpp and links chatd_worker).
#include "tests/unit/loopback.h"
#include "daemon/listeners.cpp"  // NOLINT(bugprone-suspicious-include)

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <vector>

using namespace chatd;

namespace {

// A port no one uses right now: bind to 0 and read it back.
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Index of the group's socket holding a queued connection (accepting and closing it), or -1.
int which_socket_got_it(const listener_group& g) {
  std::vector<pollfd> fds;
  for (size_t i = 0; i < g.size(); ++i) fds.push_back(pollfd{g.fd(i), POLLIN, 0});
  if (poll(fds.data(), fds.size(), 1000) <= 0) return -1;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents & POLLIN) {
      int c = accept(g.fd(i), nullptr, nullptr);
      if (c >= 0) close(c);
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::unique_ptr<listener_group> open_group(uint16_t port, size_t n) {
  auto g = listener_group::open(listen_endpoint{"127.0.0.1", port}, n, 64);
  REQUIRE_MESSAGE(g.has_value(), (g.has_value() ? "" : g.error()));
  return std::move(*g);
}

}  // namespace

TEST_CASE("reuseport group order is the order sockets were opened") {
  auto g = open_group(free_port(), 4);
  for (uint32_t k = 0; k < 4; ++k) {
    REQUIRE(steer_all_to(g->fd(0), k) == 0);
    int c = connect_to(g->endpoint().port);
    CHECK(which_socket_got_it(*g) == static_cast<int>(k));
    close(c);
  }
}

TEST_CASE("closing retired sockets from the end keeps the order of the active ones") {
  auto g = open_group(free_port(), 4);
  REQUIRE(g->resize(2, 64).has_value());
  CHECK(g->active() == 2);
  CHECK(g->size() == 4);
  CHECK(g->is_retiring(g->fd(3)));
  CHECK_FALSE(g->is_retiring(g->fd(1)));
  int kept3 = g->fd(3);
  // Socket 2 goes first while 3 is still held: the kernel moves 3 into 2's place, as we do.
  CHECK(g->close_unheld_retiring([&](int fd) { return fd == kept3; }) == 1);
  REQUIRE(g->size() == 3);
  CHECK(g->fd(2) == kept3);
  for (uint32_t k = 0; k < 3; ++k) {
    REQUIRE(steer_all_to(g->fd(0), k) == 0);
    int c = connect_to(g->endpoint().port);
    CHECK(which_socket_got_it(*g) == static_cast<int>(k));
    close(c);
  }
  CHECK(g->close_unheld_retiring([](int) { return false; }) == 1);
  CHECK(g->size() == 2);
}

TEST_CASE("shrinking steers new connections away from retiring sockets") {
  auto g = open_group(free_port(), 4);
  REQUIRE(g->resize(2, 64).has_value());
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    int c = connect_to(g->endpoint().port);
    int got = which_socket_got_it(*g);
    close(c);
    REQUIRE(got >= 0);
    seen.insert(got);
  }
  CHECK(seen == std::set<int>{0, 1});
}

TEST_CASE("growing takes back retiring sockets before opening new ones") {
  auto g = open_group(free_port(), 3);
  int third = g->fd(2);
  REQUIRE(g->resize(1, 64).has_value());
  auto opened = g->resize(4, 64);
  REQUIRE(opened.has_value());
  CHECK(*opened == 1);
  CHECK(g->fd(2) == third);
  CHECK(g->active() == 4);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    int c = connect_to(g->endpoint().port);
    seen.insert(which_socket_got_it(*g));
    close(c);
  }
  CHECK(seen == std::set<int>{0, 1, 2, 3});
}

TEST_CASE("a listener reports its accept queue length") {
  auto g = open_group(free_port(), 1);
  CHECK(accept_queue_length(g->fd(0)) == 0);
  int a = connect_to(g->endpoint().port);
  int b = connect_to(g->endpoint().port);
  CHECK(accept_queue_length(g->fd(0)) == 2);
  close(a);
  close(b);
}

TEST_CASE("binding a port held without SO_REUSEPORT is a clear error") {
  uint16_t port = 0;
  int fd = test::listen_loopback(1, port);
  REQUIRE(fd >= 0);
  auto g = listener_group::open(listen_endpoint{"127.0.0.1", port}, 2, 64);
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().find("Address already in use") != std::string::npos);
  CHECK(g.error().find("bind") != std::string::npos);
  close(fd);
}

TEST_CASE("an address that is not an IP literal is refused") {
  auto g = listener_group::open(listen_endpoint{"localhost", 8000}, 1, 64);
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().find("not an IPv4 or IPv6 address") != std::string::npos);
}

// In suite "ipv6": CTest runs it as its own test (unit_ipv6), reported as skipped when the
// machine has no IPv6 (CHATD_SKIP is that test's SKIP_REGULAR_EXPRESSION).
TEST_CASE("an IPv6 wildcard listener takes IPv4 connections too" * doctest::test_suite("ipv6")) {
  auto g = listener_group::open(listen_endpoint{"::", free_port()}, 1, 64);
  if (!g.has_value()) {
    MESSAGE("CHATD_SKIP: no IPv6 here: " << g.error());
    return;
  }
  int c = connect_to((*g)->endpoint().port);
  CHECK(which_socket_got_it(**g) == 0);
  close(c);
}
