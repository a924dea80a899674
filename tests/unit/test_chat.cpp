// The seed's gateway against members of the test's own (no session, no socket, no Redis):
// login to the others on connect, message -> chat (stamped) to every other member of the room,
// nothing to other rooms, logout and leave on disconnect; and beyond the seed: join, leave, who. And the rooms rule it relies on: a join or leave while a
// broadcast walks the room stops the process (CHATD_ASSERT, in every build).

#include "tests/unit/test_member.h"
#include "worker/chat.h"
#include "worker/chat_stamp.h"
#include "worker/member.h"
#include "worker/rooms.h"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

using namespace chatd;
using chatd::testing::test_member;

namespace {

// A delivered frame without the server's stamp (`"id":"…","ts":<ms>` as an object's first
// members), so the client's own payload can be compared exactly.
std::string unstamped(const std::string& frame) {
  static const std::regex stamp(R"re(\{"id":"[^"]*","ts":[0-9]+,?)re");
  return std::regex_replace(frame, stamp, "{");
}

std::vector<std::string> unstamped(const std::vector<std::string>& frames) {
  std::vector<std::string> out;
  for (const std::string& f : frames) out.push_back(unstamped(f));
  return out;
}

// An EVENT as the session hands it over: its name and its one argument (none when empty).
sio::event_args event(std::string name, std::string_view arg = {}) {
  sio::event_args ev;
  ev.name = std::move(name);
  ev.first_arg = arg;
  ev.args = arg;
  ev.argc = arg.empty() ? 0 : 1;
  return ev;
}

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
  CHECK(unstamped(b.got) == std::vector<std::string>{R"(42["chat",{"body":"hi","n":1.5}])"});
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
  CHECK(*ack == R"([{"bus":false}])");  // not an object: unstamped, no id
  CHECK(b.got.back() == R"(42["chat",1])");  // delivered locally all the same
  ack = c.on_event(a, "message", "{}");
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"bus":false,"id":"local-1"}])");
  CHECK_FALSE(c.on_event(a, "typing", "true").has_value());
  ack = c.on_binary_event(a, "message", R"({"_placeholder":true,"num":0})", {"x"});
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"bus":false}])");  // a bare Buffer: nothing to stamp
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

// a and b in lobby, connected, their logins cleared; with a rule, a is verified as alice.
struct lobby_pair {
  worker_stats stats;
  chat c;
  test_member a{"a", "lobby"}, b{"b", "lobby"};
  explicit lobby_pair(std::optional<user_id_rule> verified = std::nullopt)
      : c(stats, nullptr, false, verified.value_or(user_id_rule::refuse)) {
    if (verified) a.user = "alice";
    c.on_connect(a);
    c.on_connect(b);
    a.got.clear();
    b.got.clear();
  }
};

}  // namespace

TEST_CASE("chat: refuse: a message with another userId is dropped and its sender gets error") {
  lobby_pair p(user_id_rule::refuse);
  auto& [stats, c, a, b] = p;
  c.on_event(a, "message", R"({"userId":"bob","body":"hi"})");
  c.on_event(a, "message", R"("no object")");
  CHECK(b.got.empty());
  REQUIRE(a.got.size() == 2);
  CHECK(a.got[0] ==
        R"(42["error",{"message":"forbidden","data":{"reason":"userId does not match the token's user"}}])");
  c.on_event(a, "message", R"({"userId":"alice","body":"hi"})");
  CHECK(unstamped(b.got) == std::vector<std::string>{R"(42["chat",{"userId":"alice","body":"hi"}])"});
  CHECK(stats.auth_user_id_mismatch_total.load() == 2);
}

TEST_CASE("chat: rewrite: a message with another or no userId goes out with the token's user") {
  lobby_pair p(user_id_rule::rewrite);
  auto& [stats, c, a, b] = p;
  c.on_event(a, "message", R"({"userId":"bob","body":"hi"})");
  c.on_event(a, "message", R"({"body":"hey"})");
  CHECK(unstamped(b.got) == std::vector<std::string>{R"(42["chat",{"userId":"alice","body":"hi"}])",
                                                     R"(42["chat",{"body":"hey","userId":"alice"}])"});
}

// --- Stamps ----------------------------------------------------------------------------------

TEST_CASE("chat stamp: an object gets id and ts as its first members, its own text untouched") {
  std::string out;
  CHECK(append_stamped(out, R"({"body":"hi","n":[1,{"x":"}"}]})", "u-7", 1700000000123));
  CHECK(out == R"({"id":"u-7","ts":1700000000123,"body":"hi","n":[1,{"x":"}"}]})");
  out.clear();
  CHECK(append_stamped(out, " { } ", "u-8", 5));
  CHECK(out == R"({"id":"u-8","ts":5})");
  out.clear();
  // A client's own id comes after the stamp: JSON.parse keeps the client's.
  CHECK(append_stamped(out, R"({"id":"mine"})", "u-9", 6));
  CHECK(out == R"({"id":"u-9","ts":6,"id":"mine"})");
}

TEST_CASE("chat stamp: anything but an object is left unstamped") {
  for (std::string_view p : {R"("text")", "1", "null", "[1,{}]", "true", ""}) {
    std::string out;
    CHECK_FALSE(append_stamped(out, p, "u-1", 1));
    CHECK(out.empty());
  }
}

TEST_CASE("chat: each message's stamp has a new id and the time; the ACK names the id") {
  lobby_pair p;
  auto& [stats, c, a, b] = p;
  const auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  std::string first(*c.on_event(a, "message", R"({"body":"one"})"));
  std::string second(*c.on_event(a, "message", R"({"body":"two"})"));
  CHECK(first == R"([{"bus":false,"id":"local-1"}])");
  CHECK(second == R"([{"bus":false,"id":"local-2"}])");
  REQUIRE(b.got.size() == 2);
  std::smatch ts;
  REQUIRE(std::regex_search(b.got[0], ts, std::regex(R"re(^42\["chat",\{"id":"local-1","ts":([0-9]+),"body":"one"\}\]$)re")));
  const uint64_t stamped_at = std::stoull(ts[1]);
  CHECK(stamped_at >= now_ms);
  CHECK(stamped_at < now_ms + 5000);
}

// --- join, leave, who ------------------------------------------------------------------------

TEST_CASE("chat: join adds a room, tells its others login, and acks the socket's rooms") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), b("b", "lobby"), v("v", "vip");
  for (test_member* m : {&a, &b, &v}) c.on_connect(*m);
  for (test_member* m : {&a, &b, &v}) m->got.clear();
  app::ack_args ack = c.on_event(a, event("join", R"("vip")"), 1);
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"room":"vip","rooms":["lobby","vip"]}])");
  CHECK(v.got == std::vector<std::string>{R"(42["login",{"channel":"lobby","userId":"a"}])"});
  CHECK(b.got.empty());  // lobby is not told
  CHECK(a.got.empty());
  // {room} works too; joining again answers the same and tells nobody.
  ack = c.on_event(a, event("join", R"({"room":"vip"})"), 2);
  CHECK(*ack == R"([{"room":"vip","rooms":["lobby","vip"]}])");
  CHECK(v.got.size() == 1);
}

TEST_CASE("chat: a room shaped like a socket id is refused: a socket's id is its private room") {
  worker_stats stats;
  chat c(stats, nullptr);
  test_member a("a", "lobby"), v("AbCdEfGhIjKlMnOpQr_-", "lobby");
  for (test_member* m : {&a, &v}) c.on_connect(*m);
  auto join = [&](std::string_view arg) { return std::string(c.on_event(a, event("join", arg), 1).value_or("")); };
  CHECK(join(R"("AbCdEfGhIjKlMnOpQr_-")").find("shaped like a socket id") != std::string::npos);
  CHECK(c.room_registry().find("AbCdEfGhIjKlMnOpQr_-") == nullptr);
  CHECK(stats.limit_bad_names_total.load() == 1);
  // 20 characters, one outside base64url: an ordinary room.
  CHECK(join(R"("general-discussion!!")") == R"([{"room":"general-discussion!!","rooms":["lobby","general-discussion!!"]}])");
}

namespace {

// a and b in lobby, v in vip, x in other; a has joined vip too (b as well when asked); what they
// were sent so far cleared.
struct four_members {
  worker_stats stats;
  chat c{stats, nullptr};
  test_member a{"a", "lobby"}, b{"b", "lobby"}, v{"v", "vip"}, x{"x", "other"};
  explicit four_members(bool b_in_vip = false) {
    for (test_member* m : {&a, &b, &v, &x}) c.on_connect(*m);
    c.on_event(a, event("join", R"("vip")"), 1);
    if (b_in_vip) c.on_event(b, event("join", R"("vip")"), 2);
    for (test_member* m : {&a, &b, &v, &x}) m->got.clear();
  }
};

}  // namespace

TEST_CASE("chat: leave tells the room's remaining members logout; the handshake channel can be left") {
  four_members f;
  auto& [stats, c, a, b, v, x] = f;
  app::ack_args ack = c.on_event(a, event("leave", R"("lobby")"), 2);
  REQUIRE(ack.has_value());
  CHECK(*ack == R"([{"room":"lobby","rooms":["vip"]}])");
  CHECK(b.got == std::vector<std::string>{R"(42["logout",{"channel":"lobby","userId":"a"}])"});
  CHECK(v.got.empty());
  // Its messages now go to vip only.
  c.on_event(a, "message", "1");
  CHECK(b.got.size() == 1);
  CHECK(v.got == std::vector<std::string>{R"(42["chat",1])"});
  // Joining the channel again brings it back.
  c.on_event(a, event("join", R"("lobby")"), 3);
  c.on_event(a, "message", "2");
  CHECK(b.got.back() == R"(42["chat",2])");
}

TEST_CASE("chat: a socket that left every room sends nowhere, and its ACK says why") {
  four_members f;
  auto& [stats, c, a, b, v, x] = f;
  c.on_event(a, event("leave", R"("lobby")"), 2);
  c.on_event(a, event("leave", R"("vip")"), 3);
  for (test_member* m : {&a, &b, &v, &x}) m->got.clear();
  const std::string roomless = R"([{"bus":false,"error":"in no room: join one first"}])";
  app::ack_args ack = c.on_event(a, "message", R"({"body":"to nobody"})");
  REQUIRE(ack.has_value());
  CHECK(*ack == roomless);
  ack = c.on_binary_event(a, "message", R"({"_placeholder":true,"num":0})", {"x"});
  REQUIRE(ack.has_value());
  CHECK(*ack == roomless);
  for (test_member* m : {&b, &v, &x}) CHECK(m->got.empty());
  // It is still connected: joining a room gives it somewhere to talk again.
  c.on_event(a, event("join", R"("vip")"), 4);
  c.on_event(a, "message", "1");
  CHECK(v.got.back() == R"(42["chat",1])");
}

TEST_CASE("chat: a message to several rooms reaches each other member once") {
  four_members f(true);
  auto& [stats, c, a, b, v, x] = f;
  const uint64_t before = stats.deliveries_total.load();
  c.on_event(a, "message", "7");
  CHECK(x.got.empty());
  CHECK(b.got == std::vector<std::string>{R"(42["chat",7])"});
  CHECK(v.got == std::vector<std::string>{R"(42["chat",7])"});
  CHECK(a.got.empty());
  CHECK(stats.deliveries_total.load() - before == 2);
}

TEST_CASE("chat: a disconnect tells each room's others logout, once per member") {
  four_members f(true);
  auto& [stats, c, a, b, v, x] = f;
  c.on_disconnect(a);
  const std::string logout = R"(42["logout",{"channel":"lobby","userId":"a"}])";
  CHECK(b.got == std::vector<std::string>{logout});
  CHECK(v.got == std::vector<std::string>{logout});
  CHECK(x.got.empty());
}

TEST_CASE("chat: bad room names are refused with an error ack, or an error event without one") {
  worker_stats stats;
  chat c(stats, nullptr);
  c.set_connect_limits(chat::connect_limits{8, 0, nullptr, [] { return uint64_t{0}; }});
  test_member a("a", "lobby");
  c.on_connect(a);
  a.got.clear();
  auto error_of = [&](std::string_view name, std::string_view arg) {
    app::ack_args ack = c.on_event(a, event(std::string(name), arg), 9);
    return ack ? std::string(*ack) : std::string("<none>");
  };
  CHECK(error_of("join", R"("much-too-long")") == R"([{"error":"room is longer than 8 characters"}])");
  CHECK(error_of("join", R"("a\u0001")") == R"([{"error":"room contains a control character"}])");
  const std::string usage =
      R"x([{"error":"a room name is needed: emit(event, \"room\") or emit(event, {room: \"room\"})"}])x";
  CHECK(error_of("join", "") == usage);
  CHECK(error_of("join", "42") == usage);
  CHECK(error_of("join", R"({"name":"x"})") == usage);
  CHECK(error_of("join", R"("a")") ==
        R"([{"error":"a room shaped like a socket id (20 letters, digits, '-' or '_') is that socket's own, not a room to join"}])");
  CHECK(error_of("leave", R"("vip")") == R"([{"error":"not in room vip"}])");
  CHECK(chat::rooms_of(a) == std::vector<std::string>{"a", "lobby"});
  CHECK(a.got.empty());
  CHECK_FALSE(c.on_event(a, event("join", R"("much-too-long")"), -1).has_value());
  CHECK(a.got == std::vector<std::string>{
      R"(42["error",{"message":"room is longer than 8 characters","event":"join"}])"});
  CHECK(a.disconnects == 0);
}

TEST_CASE("chat: a join over the address's room quota is refused") {
  worker_stats stats;
  chat c(stats, nullptr);
  ip_limits per_ip(ip_limit_settings{0, 0, 1});
  c.set_connect_limits(chat::connect_limits{0, 0, &per_ip, [] { return uint64_t{0}; }});
  test_member a("a", "lobby");
  a.hs.address = "10.0.0.1";
  c.on_connect(a);  // lobby is the address's one room
  app::ack_args ack = c.on_event(a, event("join", R"("vip")"), 1);
  REQUIRE(ack.has_value());
  CHECK(ack->find(R"([{"error":)") == 0);
  CHECK(chat::rooms_of(a) == std::vector<std::string>{"a", "lobby"});
  CHECK(stats.limit_rooms_refused_total.load() == 1);
}

TEST_CASE("chat: who asks the who sink and answers the ACK later, to a socket still there") {
  lobby_pair p;
  auto& [stats, c, a, b] = p;
  std::vector<std::pair<std::string, chat::who_reply>> asked;
  c.who_sink = [&](std::string room, chat::who_reply reply) { asked.emplace_back(room, std::move(reply)); };
  CHECK_FALSE(c.on_event(a, event("who"), 4).has_value());  // who(): its channel
  CHECK_FALSE(c.on_event(b, event("who", R"({"room":"vip"})"), 5).has_value());
  REQUIRE(asked.size() == 2);
  CHECK(asked[0].first == "lobby");
  CHECK(asked[1].first == "vip");
  asked[0].second(R"({"room":"lobby","sockets":[]})");
  CHECK(a.got == std::vector<std::string>{R"(434[{"room":"lobby","sockets":[]}])"});
  c.on_disconnect(b);
  asked[1].second(R"({"room":"vip","sockets":[]})");  // b has gone: nothing to answer
  CHECK(b.got.size() == 0);
  // Without an ack there is nowhere to answer.
  c.on_event(a, event("who", R"("lobby")"), -1);
  CHECK(a.got.back() ==
        R"x(42["error",{"message":"who answers in its ack: emit(\"who\", \"room\", (answer) => …)","event":"who"}])x");
}
