// The seed's gateway against members of the test's own (no session, no socket, no Redis):
// login to the others on connect, message -> chat to every other member of the room, nothing to
// other rooms, leave on disconnect. And the rooms rule it relies on: a join or leave while a
// broadcast walks the room stops the process (CHATD_ASSERT, in every build).

#include "tests/unit/test_member.h"
#include "worker/chat.h"
#include "worker/member.h"
#include "worker/rooms.h"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

using namespace chatd;
using chatd::testing::test_member;

namespace {


}  // namespace

TEST_CASE("chat: a joining member is answered and the room's others get login") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby"), x("x", "other");
  c.on_connect(a);
  c.on_connect(x);
  c.on_connect(b);
  CHECK(a.connected);
  CHECK(b.connected);
  CHECK(a.got == std::vector<std::string>{R"(42["login",{"channel":"lobby","userId":"b"}])"});
  CHECK(b.got.empty());
  CHECK(x.got.empty());
  CHECK(c.sessions() == 3);
}

TEST_CASE("chat: a CONNECT without a channel is refused, saying how to connect") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "");
  a.channel_given = false;
  c.on_connect(a);
  CHECK_FALSE(a.connected);
  CHECK(a.refused == "missing channel: connect with io(url, {query: {channel, userId}})");
  CHECK(c.sessions() == 0);
}

TEST_CASE("chat: a message goes as chat to every other member of the room, same payload") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby"), d("d", "lobby"), x("x", "other");
  for (test_member* m : {&a, &b, &d, &x}) c.on_connect(*m);
  a.got.clear();
  b.got.clear();
  d.got.clear();
  const uint64_t before = stats.deliveries_total.load();
  c.on_event(a, "message", R"({"body":"hi","n":1.5})");
  CHECK(a.got.empty());
  CHECK(b.got == std::vector<std::string>{R"(42["chat",{"body":"hi","n":1.5}])"});
  CHECK(d.got == b.got);
  CHECK(x.got.empty());
  CHECK(stats.deliveries_total.load() - before == 2);
  c.on_event(a, "typing", "true");  // no handler: ignored
  CHECK(b.got.size() == 1);
  c.on_event(a, "message", "");  // no argument: undefined, sent as null
  CHECK(b.got.back() == R"(42["chat",null])");
}

TEST_CASE("chat: a message's ACK says it did not reach a bus when there is none; other events get none") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby");
  c.on_connect(a);
  c.on_connect(b);
  app::ack_args ack = c.on_event(a, "message", "1");
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"bus":false}])");
  CHECK(b.got.back() == R"(42["chat",1])");  // delivered locally all the same
  CHECK_FALSE(c.on_event(a, "typing", "true").has_value());
  ack = c.on_binary_event(a, "message", R"({"_placeholder":true,"num":0})", {"x"});
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"bus":false}])");
  CHECK_FALSE(c.on_binary_event(a, "other", "1", {}).has_value());
}

TEST_CASE("chat: a member that disconnected gets nothing and the room goes with its last") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby");
  c.on_connect(a);
  c.on_connect(b);
  c.on_disconnect(b);
  CHECK(b.home_.where == nullptr);
  b.got.clear();
  c.on_event(a, "message", "1");
  CHECK(b.got.empty());
  c.on_disconnect(a);
  CHECK(c.room_registry().size() == 0);
  CHECK(c.sessions() == 0);
}

namespace {

// Runs f in a child process; true when the child was stopped by SIGABRT (a CHATD_ASSERT).
template <class F>
bool aborts(F&& f) {
  pid_t pid = fork();
  if (pid == 0) {
    // The assertion's message would clutter the test log; the exit status is what counts.
    (void)!freopen("/dev/null", "w", stderr);
    // doctest's crash handler would report the abort as this test's failure: the default, here.
    signal(SIGABRT, SIG_DFL);
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

}  // namespace

TEST_CASE("rooms: join or leave while a broadcast walks the room stops the worker") {
  rooms r;
  test_member a("a", "lobby"), b("b", "lobby"), c("c", "lobby");
  r.join(a, "lobby");
  r.join(b, "lobby");
  CHECK(aborts([&] {
    rooms::for_each_member(*r.find("lobby"), [&](member&) { r.join(c, "lobby"); });
  }));
  CHECK(aborts([&] {
    rooms::for_each_member(*r.find("lobby"), [&](member& m) { r.leave(m, "lobby"); });
  }));
  // Outside a walk the same calls are fine, and the walk count is back to zero.
  CHECK(r.find("lobby")->walking == 0);
  r.join(c, "lobby");
  r.leave(a, "lobby");
  CHECK(r.find("lobby")->members.size() == 2);
}

// --- The local side of other nodes' requests (adapter_node) ---------------------------------

TEST_CASE("chat: select as socket.io-adapter's apply: rooms union, except by room or socket id") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby"), d("d", "other"), e("e", "other");
  for (test_member* m : {&a, &b, &d, &e}) c.on_connect(*m);
  auto ids = [](std::vector<member*> v) {
    std::vector<std::string> out;
    for (member* m : v) out.emplace_back(m->id());
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(ids(c.select({}, {})) == std::vector<std::string>{"a", "b", "d", "e"});
  CHECK(ids(c.select({"lobby"}, {})) == std::vector<std::string>{"a", "b"});
  CHECK(ids(c.select({"lobby", "other"}, {"b"})) == std::vector<std::string>{"a", "d", "e"});
  CHECK(ids(c.select({}, {"other"})) == std::vector<std::string>{"a", "b"});
  CHECK(ids(c.select({"d", "lobby"}, {"a"})) == std::vector<std::string>{"b", "d"});  // a socket id is a room
  CHECK(ids(c.select({"nowhere"}, {})).empty());
  CHECK(c.find("d") == &d);
  CHECK(c.find("zz") == nullptr);
}

TEST_CASE("chat: remote joins and leaves change a socket's rooms; its own id room stays") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby");
  c.on_connect(a);
  c.on_connect(b);
  CHECK(chat::rooms_of(a) == std::vector<std::string>{"a", "lobby"});
  CHECK(c.join(a, "vip"));
  CHECK_FALSE(c.join(a, "vip"));
  CHECK_FALSE(c.join(a, "a"));   // its own room is always there
  CHECK_FALSE(c.leave(a, "a"));  // and cannot be left
  CHECK(chat::rooms_of(a) == std::vector<std::string>{"a", "lobby", "vip"});
  std::vector<std::string> all = c.all_rooms();
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"a", "b", "lobby", "vip"});
  // Leaving its channel keeps the chat's client.to(channel): b still gets a's messages.
  CHECK(c.leave(a, "lobby"));
  b.got.clear();
  c.on_event(a, "message", "1");
  CHECK(b.got == std::vector<std::string>{R"(42["chat",1])"});
  c.on_disconnect(a);
  all = c.all_rooms();
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"b", "lobby"});
}

TEST_CASE("chat: a client's ACK goes to the ack sink, a leaving socket to the leave sink") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby");
  std::vector<std::string> seen;
  c.ack_sink = [&](member& m, int64_t id, std::string_view args, std::vector<std::string> parts) {
    seen.push_back(std::string(m.id()) + " " + std::to_string(id) + " " + std::string(args) + " " +
                   std::to_string(parts.size()));
  };
  c.leave_sink = [&](member& m) { seen.push_back(std::string("leave ") + std::string(m.id())); };
  c.on_connect(a);
  c.on_ack(a, 3, "[true]", {});
  c.on_disconnect(a);
  CHECK(seen == std::vector<std::string>{"a 3 [true] 0", "leave a"});
}

// --- auth: on: members with a verified user -------------------------------------------------

TEST_CASE("chat: a verified member's login carries the token's user as userId, and no token") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby");
  b.user = "bob";
  b.query = R"({"channel":"lobby","userId":"mallory","token":"x.y.z"})";
  c.on_connect(a);
  c.on_connect(b);
  CHECK(a.got == std::vector<std::string>{R"(42["login",{"channel":"lobby","userId":"bob"}])"});
}

namespace {

// Alice (verified) and b in one room, connected, their logins cleared.
struct verified_pair {
  worker_stats stats;
  chat c;
  test_member a{"a", "lobby"}, b{"b", "lobby"};
  explicit verified_pair(user_id_rule rule) : c(stats, nullptr, false, rule) {
    a.user = "alice";
    c.on_connect(a);
    c.on_connect(b);
    a.got.clear();
    b.got.clear();
  }
};

}  // namespace

TEST_CASE("chat: refuse: a message with another userId is dropped and its sender gets error") {
  verified_pair p(user_id_rule::refuse);
  auto& [stats, c, a, b] = p;
  c.on_event(a, "message", R"({"userId":"bob","body":"hi"})");
  c.on_event(a, "message", R"("no object")");
  CHECK(b.got.empty());
  REQUIRE(a.got.size() == 2);
  CHECK(a.got[0] ==
        R"(42["error",{"message":"forbidden","data":{"reason":"userId does not match the token's user"}}])");
  c.on_event(a, "message", R"({"userId":"alice","body":"hi"})");
  CHECK(b.got == std::vector<std::string>{R"(42["chat",{"userId":"alice","body":"hi"}])"});
  CHECK(stats.auth_user_id_mismatch_total.load() == 2);
}

TEST_CASE("chat: rewrite: a message with another or no userId goes out with the token's user") {
  verified_pair p(user_id_rule::rewrite);
  auto& [stats, c, a, b] = p;
  c.on_event(a, "message", R"({"userId":"bob","body":"hi"})");
  c.on_event(a, "message", R"({"body":"hey"})");
  CHECK(b.got == std::vector<std::string>{R"(42["chat",{"userId":"alice","body":"hi"}])",
                                          R"(42["chat",{"body":"hey","userId":"alice"}])"});
}
