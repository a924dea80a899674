// The echo application with members of the test's own: `auth` on connect, `<name>-back`,
// acks with the event's arguments, binary attachments sent back as binary, on any namespace.

#include "worker/echo.h"

#include "test_member.h"

#include <doctest/doctest.h>

using namespace chatd;
using chatd::testing::test_member;

namespace {

app::ack_args event(echo& e, member& m, std::string_view data, int64_t ack_id) {
  auto ev = sio::split_event(data);
  REQUIRE(ev);
  return e.on_event(m, *ev, ack_id);
}

}  // namespace

TEST_CASE("echo: connect is accepted and answered with auth, the CONNECT payload") {
  echo e;
  test_member m("s1", "");
  m.auth = R"({"token":"t"})";
  e.on_connect(m);
  CHECK(m.connected);
  CHECK(m.got == std::vector<std::string>{R"(42["auth",{"token":"t"}])"});
  test_member c("s2", "");
  c.ns = "/custom";
  e.on_connect(c);
  CHECK(c.got == std::vector<std::string>{R"(42/custom,["auth",{}])"});
}

TEST_CASE("echo: an event comes back as <name>-back with every argument, to its sender only") {
  echo e;
  test_member m("s1", "");
  CHECK_FALSE(event(e, m, R"(["message",1,"2",{"3":[4]}])", -1));
  CHECK(m.got == std::vector<std::string>{R"(42["message-back",1,"2",{"3":[4]}])"});
  m.got.clear();
  CHECK_FALSE(event(e, m, R"(["ping"])", -1));
  CHECK(m.got == std::vector<std::string>{R"(42["ping-back"])"});
  test_member c("s2", "");
  c.ns = "/custom";
  event(e, c, R"(["message","x"])", -1);
  CHECK(c.got == std::vector<std::string>{R"(42/custom,["message-back","x"])"});
}

TEST_CASE("echo: an event that asks for an ack is acknowledged with its arguments") {
  echo e;
  test_member m("s1", "");
  auto ack = event(e, m, R"(["message-with-ack",1,"2",{"3":[4]}])", 7);
  REQUIRE(ack);
  CHECK(*ack == R"([1,"2",{"3":[4]}])");
  CHECK(m.got.empty());
  ack = event(e, m, R"(["message-with-ack"])", 8);
  REQUIRE(ack);
  CHECK(*ack == "[]");
}

TEST_CASE("echo: binary arguments go back as attachments, in an event or an ack") {
  echo e;
  test_member m("s1", "");
  m.ns = "/custom";
  auto ev = sio::split_event(R"(["message",{"_placeholder":true,"num":0},"t"])");
  REQUIRE(ev);
  CHECK_FALSE(e.on_binary_event(m, *ev, -1, {"\x01\x02"}));
  REQUIRE(m.got.size() == 2);
  CHECK(m.got[0] == R"(451-/custom,["message-back",{"_placeholder":true,"num":0},"t"])");
  CHECK(m.got[1] == "<binary>\x01\x02");
  m.got.clear();
  CHECK_FALSE(e.on_binary_event(m, *ev, 4, {"\x03"}));
  REQUIRE(m.got.size() == 2);
  CHECK(m.got[0] == R"(461-/custom,4[{"_placeholder":true,"num":0},"t"])");
  CHECK(m.got[1] == "<binary>\x03");
}

TEST_CASE("echo: emit-with-ack asks the client for an ack, and its ACK comes back as an event") {
  echo e;
  test_member m("s1", "");
  m.ns = "/custom";
  CHECK_FALSE(event(e, m, R"(["emit-with-ack",1,{"a":2}])", -1));
  REQUIRE(m.got.size() == 1);
  CHECK(m.got[0] == R"(42/custom,0["emit-with-ack",1,{"a":2}])");
  m.got.clear();
  e.on_ack(m, 5, "[9]", {});  // not an id it asked for
  CHECK(m.got.empty());
  e.on_ack(m, 0, R"([1,{"a":2},"x"])", {});
  CHECK(m.got == std::vector<std::string>{R"(42/custom,["emit-with-ack-back",1,{"a":2},"x"])"});
  m.got.clear();
  e.on_ack(m, 0, "[1]", {});  // answered once only
  CHECK(m.got.empty());
  auto ev = sio::split_event(R"(["emit-with-ack",{"_placeholder":true,"num":0}])");
  REQUIRE(ev);
  e.on_binary_event(m, *ev, -1, {"\x07"});
  REQUIRE(m.got.size() == 2);
  CHECK(m.got[0] == R"(451-/custom,1["emit-with-ack",{"_placeholder":true,"num":0}])");
  m.got.clear();
  e.on_ack(m, 1, R"([{"_placeholder":true,"num":0}])", {"\x08"});
  REQUIRE(m.got.size() == 2);
  CHECK(m.got[0] == R"(451-/custom,["emit-with-ack-back",{"_placeholder":true,"num":0}])");
  CHECK(m.got[1] == "<binary>\x08");
  e.on_disconnect(m);
}
