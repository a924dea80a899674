// The Engine.IO session's state machine on a bare libuv loop, with a recording application on
// "/", fake WebSocket transports and fake held GETs: heartbeat, connect and ping timeouts,
// CONNECT / DISCONNECT / close from either side, events and acks, long-polling GETs, the upgrade
// (probe, switch, a probe or a GET vanishing mid-way, timeout) and the registry's ownership.

#include "worker/app.h"
#include "worker/member.h"
#include "worker/poll_payload.h"
#include "worker/poll_transport.h"
#include "worker/session.h"
#include "worker/session_registry.h"
#include "worker/timer_wheel.h"

#include <doctest/doctest.h>

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace chatd;

namespace {

struct recording_app final : app {
  std::vector<std::string> calls;
  bool accept = true;
  std::string refuse;  // refuse the CONNECT with this message
  void on_connect(member& m) override {
    calls.push_back("connect");
    if (!refuse.empty()) return m.refuse_connect(refuse);
    if (accept) m.accept_connect();
  }
  // A `message` is acknowledged with ack_json; other events are not.
  ack_args on_event(member&, std::string_view name, std::string_view arg) override {
    calls.push_back(std::string("event ") + std::string(name) + " " + std::string(arg));
    return name == "message" ? ack_args(ack_json) : std::nullopt;
  }
  ack_args on_binary_event(member&, std::string_view name, std::string_view arg,
                           std::vector<std::string> parts) override {
    calls.push_back(std::string("binary ") + std::string(name) + " " + std::string(arg) + " " +
                    std::to_string(parts.size()));
    return name == "message" ? ack_args(ack_json) : std::nullopt;
  }
  std::string ack_json = "[]";
  void on_disconnect(member&) override { calls.push_back("disconnect"); }
  void on_ack(member&, int64_t id, std::string_view args, std::vector<std::string> parts) override {
    calls.push_back("ack " + std::to_string(id) + " " + std::string(args) + " " +
                    std::to_string(parts.size()));
  }
};

config short_timers() {
  config c;
  c.ping_interval_ms = 60;
  c.ping_timeout_ms = 40;
  c.connect_timeout_ms = 150;
  return c;
}

// The HTTP connection holding a polling GET, as far as the session's transport sees it.
struct fake_get final : held_get {
  poll_transport* held = nullptr;
  std::vector<std::string> answers;
  int wakes = 0;
  void answer_poll(std::string_view payload) override {
    answers.emplace_back(payload);
    held = nullptr;
  }
  void wake() override { ++wakes; }
  // What the connection's flush does with a held GET.
  bool flush() {
    if (held == nullptr || !held->ready()) return false;
    answer_poll(held->take_payload());
    return true;
  }
};

// A WebSocket connection as the session sees it: frames it was given, whether it was closed.
struct fake_ws final : transport {
  std::vector<std::string> sent;  // payloads of the text frames
  bool closed = false;
  bool released = false;
  uint16_t close_code = 0;
  bool send(const shared_bytes& frame) override {
    if (closed) return false;
    auto v = view_frame(*frame);
    REQUIRE(v.has_value());
    sent.emplace_back(v->payload);
    return true;
  }
  void close(uint16_t code, std::string_view) override {
    closed = true;
    close_code = code;
  }
  void release() override { released = true; }
};

struct fixture {
  uv_loop_t loop{};
  config cfg;
  worker_stats stats;
  recording_app application;
  recording_app other;  // serves "/other"
  namespace_table namespaces;
  timer_wheel* timers = nullptr;
  session_registry* registry = nullptr;
  session_context* ctx = nullptr;

  explicit fixture(config c = short_timers()) : cfg(std::move(c)) {
    uv_loop_init(&loop);
    timers = new timer_wheel(&loop, 10, &session::timer_fired, nullptr);
    registry = new session_registry;
    namespaces.add(namespace_entry{"/", &application, false, cfg.message_rate, cfg.message_burst,
                                   cfg.message_rate_disconnect});
    namespaces.add(namespace_entry{"/other", &other, false, cfg.message_rate, cfg.message_burst,
                                   cfg.message_rate_disconnect});
    ctx = new session_context{&loop, cfg, 3, stats, *timers, make_text_frame({"2"}), namespaces,
                              *registry};
  }
  ~fixture() {
    delete registry;  // sessions first: they cancel their timers
    delete ctx;
    timers->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    delete timers;
    CHECK(uv_loop_close(&loop) == 0);
  }

  // One GET per session, alive as long as the fixture (a session may answer it when it ends).
  std::map<const session*, std::unique_ptr<fake_get>> gets;
  // WebSocket transports outlive the sessions: the registry ends live sessions when it goes.
  std::vector<std::unique_ptr<fake_ws>> sockets;
  fake_ws& new_ws() { return *sockets.emplace_back(std::make_unique<fake_ws>()); }
  std::vector<std::string> drain(session& s);
  // A polling session whose open packet was taken, optionally CONNECTed on "/", and whose next
  // GET is held (nothing pending): that GET.
  fake_get& held_get_of(session& s, bool connect = false);

  session& open(std::string channel = "lobby") {
    return session::create(*ctx, nullptr, R"({"channel":"lobby"})", channel, !channel.empty());
  }

  // Runs the loop for about `ms` (the wheel keeps it alive while anything is scheduled).
  void run_for(uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, [](uv_timer_t* h) noexcept { uv_stop(h->loop); }, ms, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
};

std::vector<std::string> split_payload(const std::string& payload) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= payload.size()) {
    size_t end = payload.find('\x1e', pos);
    if (end == std::string::npos) end = payload.size();
    out.push_back(payload.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// The packets a GET would carry now (none, and the GET stays held, when nothing is pending).
std::vector<std::string> drain(session& s, fake_get& g) {
  if (g.held == nullptr) g.held = s.attach_poll(g);
  REQUIRE(g.held != nullptr);
  g.answers.clear();
  if (!g.flush()) return {};
  return split_payload(g.answers.back());
}

std::vector<std::string> fixture::drain(session& s) {
  auto& g = gets[&s];
  if (!g) g = std::make_unique<fake_get>();
  return ::drain(s, *g);
}

fake_get& fixture::held_get_of(session& s, bool connect) {
  drain(s);
  if (connect) {
    s.on_poll_data("40");
    drain(s);
  }
  CHECK(drain(s).empty());
  fake_get& g = *gets[&s];
  REQUIRE(g.held != nullptr);
  return g;
}


}  // namespace

TEST_CASE("a new session queues the open packet and is listed under its sid") {
  fixture f;
  session& s = f.open();
  CHECK(s.current_state() == session::state::handshaking);
  CHECK(f.registry->find(s.eio_sid()) == &s);
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0].starts_with("0{\"sid\":\"" + std::string(s.eio_sid()) + "\""));
  CHECK(p[0].find("\"upgrades\":[\"websocket\"]") != std::string::npos);
  CHECK(p[0].find("\"pingInterval\":60") != std::string::npos);
}

TEST_CASE("CONNECT on / is handed to the application and answered with the socket id") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  CHECK(s.current_state() == session::state::connected);
  CHECK(f.application.calls == std::vector<std::string>{"connect"});
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "40{\"sid\":\"" + std::string(s.sio_sid()) + "\"}");
  CHECK(s.sio_sid().size() == 20);
  REQUIRE(s.socket("/") != nullptr);
  CHECK(s.socket("/")->id() == s.sio_sid());
  CHECK(s.socket("/")->nsp() == "/");
}

TEST_CASE("a CONNECT the application refuses gets its CONNECT_ERROR; the session stays handshaking") {
  fixture f;
  f.application.refuse = "no";
  session& s = f.open("");
  f.drain(s);
  s.on_poll_data("40");
  CHECK(s.current_state() == session::state::handshaking);
  CHECK(f.application.calls == std::vector<std::string>{"connect"});
  CHECK(s.socket("/") == nullptr);
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == R"(44{"message":"no"})");
  f.application.refuse.clear();
  s.on_poll_data("40");  // it may try again
  CHECK(s.current_state() == session::state::connected);
}

TEST_CASE("an unknown namespace gets Invalid namespace") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40/admin,");
  CHECK(s.current_state() == session::state::handshaking);
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == R"(44/admin,{"message":"Invalid namespace"})");
}

TEST_CASE("events reach the application; a message with an ack id is acknowledged") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  f.drain(s);
  s.on_poll_data("42[\"message\",{\"body\":\"hi\"}]\x1e" "427[\"message\",1]\x1e" "42[\"other\"]");
  CHECK(f.application.calls ==
        std::vector<std::string>{"connect", "event message {\"body\":\"hi\"}", "event message 1",
                                 "event other "});
  CHECK(f.drain(s) == std::vector<std::string>{"437[]"});
}

TEST_CASE("a message's ACK carries the arguments the application returns") {
  fixture f;
  f.application.ack_json = R"([{"bus":false}])";
  session& s = f.open();
  s.on_poll_data("40");
  f.drain(s);
  s.on_poll_data("429[\"message\",1]\x1e" "4210[\"other\",1]");
  CHECK(f.drain(s) == std::vector<std::string>{R"(439[{"bus":false}])"});
}

TEST_CASE("namespaces: one session, a socket per namespace, each with its own id and application") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40\x1e" "40/other,{\"k\":1}");
  REQUIRE(s.socket("/") != nullptr);
  REQUIRE(s.socket("/other") != nullptr);
  CHECK(s.socket("/")->id() != s.socket("/other")->id());
  CHECK(s.socket("/other")->nsp() == "/other");
  CHECK(s.socket("/other")->auth_json() == "{\"k\":1}");
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 2);
  CHECK(p[1] == "40/other,{\"sid\":\"" + std::string(s.socket("/other")->id()) + "\"}");
  s.on_poll_data("42/other,5[\"message\",2]\x1e" "42[\"message\",1]");
  CHECK(f.other.calls == std::vector<std::string>{"connect", "event message 2"});
  CHECK(f.application.calls == std::vector<std::string>{"connect", "event message 1"});
  CHECK(f.drain(s) == std::vector<std::string>{"43/other,5[]"});
}

TEST_CASE("namespaces: the client's DISCONNECT of one keeps the others on the session") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40\x1e" "40/other,");
  s.on_poll_data("41/other,");
  CHECK(s.socket("/other") == nullptr);
  CHECK(f.other.calls == std::vector<std::string>{"connect", "disconnect"});
  CHECK(s.current_state() == session::state::connected);
  s.on_poll_data("42[\"message\",1]");
  CHECK(f.application.calls.back() == "event message 1");
  // It may join again, with a new id; and leaving every namespace makes the session handshaking.
  s.on_poll_data("40/other,");
  REQUIRE(s.socket("/other") != nullptr);
  s.on_poll_data("41/other,\x1e" "41");
  CHECK(s.current_state() == session::state::handshaking);
  CHECK_FALSE(s.ended());
}

TEST_CASE("namespaces: a packet for a namespace not joined closes the session, as the reference") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  s.on_poll_data("42/other,[\"message\",1]");
  CHECK(s.ended());
  CHECK(f.other.calls.empty());
}

TEST_CASE("namespaces: a CONNECT twice to the same namespace is an error; to another one is not") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40/other,\x1e" "40");
  CHECK_FALSE(s.ended());
  s.on_poll_data("40/other,");
  CHECK(s.ended());
}

TEST_CASE("namespaces: the session's end lets every socket's application go") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  s.on_ws_message(ws, true, "40");
  s.on_ws_message(ws, true, "40/other,");
  s.transport_gone(ws);
  CHECK(f.application.calls.back() == "disconnect");
  CHECK(f.other.calls.back() == "disconnect");
}

TEST_CASE("a binary event waits for its attachments, then reaches the application") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  f.drain(s);
  s.on_poll_data(R"(451-["message",{"_placeholder":true,"num":0}])");
  CHECK(f.application.calls.size() == 1);
  s.on_poll_data("bAQID");  // base64 of 01 02 03
  REQUIRE(f.application.calls.size() == 2);
  CHECK(f.application.calls[1] == R"(binary message {"_placeholder":true,"num":0} 1)");
}

TEST_CASE("an EVENT before CONNECT ends the session") {
  fixture f;
  session& s = f.open();
  std::string sid(s.eio_sid());
  s.on_poll_data("42[\"message\",1]");
  CHECK(s.ended());
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.application.calls.empty());
  f.registry->collect();  // freed now; nothing may touch it
}

TEST_CASE("the client's DISCONNECT leaves the namespace but keeps the session") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  s.on_poll_data("41");
  CHECK(s.current_state() == session::state::handshaking);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
  s.on_poll_data("40");  // may connect again
  CHECK(s.current_state() == session::state::connected);
}

TEST_CASE("the client's close packet ends the session and disconnects it from the application") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  std::string sid(s.eio_sid());
  s.on_poll_data("1");
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
}

TEST_CASE("a client ping is a protocol error") {
  fixture f;
  session& s = f.open();
  std::string sid(s.eio_sid());
  s.on_poll_data("2");
  CHECK(f.registry->find(sid) == nullptr);
}

TEST_CASE("the server pings every ping interval while the client answers") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  f.drain(s);
  int pings = 0;
  for (int i = 0; i < 4; ++i) {
    f.run_for(75);
    std::vector<std::string> p = f.drain(s);
    for (const std::string& packet : p) {
      if (packet == "2") {
        ++pings;
        s.on_poll_data("3");
      }
    }
  }
  CHECK(pings >= 3);
  CHECK(s.current_state() == session::state::connected);
}

TEST_CASE("a ping left unanswered past the ping timeout ends the session") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  std::string sid(s.eio_sid());
  f.run_for(250);  // ping at 60 ms, timeout 40 ms later
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
}

TEST_CASE("an unanswered ping ends the session at ping_interval + ping_timeout, not a tick later") {
  fixture f;  // ping 60 ms, timeout 40 ms, on a wheel of 10 ms ticks
  session& s = f.open();
  s.on_poll_data("40");
  std::string sid(s.eio_sid());
  const uint64_t due = uv_now(&f.loop) + 60 + 40;
  // Before the deadline the session lives; from it on a request finds it expired, whether or not
  // the wheel has fired yet.
  while (uv_now(&f.loop) < due) {
    REQUIRE(f.registry->find(sid) == &s);
    CHECK_FALSE(s.expire_if_overdue());
    f.run_for(1);
  }
  CHECK((f.registry->find(sid) == nullptr || s.expire_if_overdue()));
  CHECK(f.registry->find(sid) == nullptr);
}

TEST_CASE("a packet while a pong is awaited moves the ping deadline once, by ping_timeout") {
  config c = short_timers();
  c.ping_interval_ms = 100;
  c.ping_timeout_ms = 200;
  fixture f(c);
  session& s = f.open();
  s.on_poll_data("40");
  std::string sid(s.eio_sid());
  f.run_for(250);  // the ping at 100 ms: the pong is due by 300 ms
  s.on_poll_data("6");  // due by 450 ms now
  f.run_for(10);
  s.on_poll_data("6");  // once per ping: no further
  f.run_for(140);  // 400 ms
  CHECK(f.registry->find(sid) == &s);
  f.run_for(120);  // 520 ms
  CHECK(f.registry->find(sid) == nullptr);
}

TEST_CASE("no CONNECT within connect_timeout ends the session") {
  config c = short_timers();
  c.ping_interval_ms = 1000;  // no heartbeat in the way
  c.ping_timeout_ms = 1000;
  fixture f(c);
  session& s = f.open();
  std::string sid(s.eio_sid());
  f.run_for(60);
  CHECK(f.registry->find(sid) == &s);
  f.run_for(200);
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.application.calls.empty());
}

TEST_CASE("a polling client over max_backpressure is ended from the timer, not inside send") {
  config c = short_timers();
  c.max_backpressure = 64;
  fixture f(c);
  session& s = f.open();
  s.on_poll_data("40");
  std::string sid(s.eio_sid());
  CHECK(s.send(make_text_frame({std::string(100, 'x')})) == false);  // over the bound
  CHECK(f.registry->find(sid) == &s);                                 // still there
  f.run_for(30);
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.stats.dropped_slow_total.load() == 1);
}

TEST_CASE("sessions still live when the registry goes are freed with their timers cancelled") {
  fixture f;
  f.open();
  f.open();
  CHECK(f.registry->size() == 2);
  CHECK(f.timers->scheduled() == 2);
  delete f.registry;
  f.registry = new session_registry;
  CHECK(f.timers->scheduled() == 0);
}

// --- WebSocket sessions ---------------------------------------------------------------------

TEST_CASE("a WebSocket session sends through its transport: open, pings, the CONNECT answer") {
  // A pong deadline far beyond the test's own waits: on a loaded machine (a sanitizer build beside
  // other work) run_for(80) can wake past ping + 40 ms, and this test is about the transport, not
  // the deadline (the deadline tests above own that).
  config c = short_timers();
  c.ping_timeout_ms = 5000;
  fixture f(c);
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  CHECK(s.current_transport() == session::transport_kind::websocket);
  REQUIRE(ws.sent.size() == 1);
  CHECK(ws.sent[0].starts_with("0{\"sid\":"));
  CHECK(ws.sent[0].find("\"upgrades\":[]") != std::string::npos);  // nothing to upgrade to
  s.on_ws_message(ws, true, "40");
  REQUIRE(ws.sent.size() == 2);
  CHECK(ws.sent[1].starts_with("40{\"sid\":"));
  f.run_for(80);
  CHECK(ws.sent.back() == "2");
  s.on_ws_message(ws, true, "3");
  f.run_for(80);
  CHECK(s.connected());
  CHECK_FALSE(ws.closed);
  ws.closed = true;  // what a closing connection does before it says so
  s.transport_gone(ws);
  CHECK(s.ended());
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
  CHECK_FALSE(ws.released);  // the transport ended the link itself
}

TEST_CASE("a WebSocket session that fails closes its transport and ends when it is gone") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  s.on_ws_message(ws, true, "40");
  f.run_for(150);  // a ping goes out and is never answered
  CHECK(ws.closed);
  CHECK(ws.close_code == 1000);
  CHECK(s.current_state() == session::state::closing);
  std::string sid(s.eio_sid());
  s.transport_gone(ws);
  CHECK(f.registry->find(sid) == nullptr);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
}

TEST_CASE("a protocol error on a WebSocket session closes with 1002") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  s.on_ws_message(ws, true, "9");
  CHECK(ws.closed);
  CHECK(ws.close_code == 1002);
  s.transport_gone(ws);
  CHECK(f.application.calls.empty());
}

// --- Long-polling GETs ------------------------------------------------------------------------

TEST_CASE("a held GET is woken when something is sent, and answered with every pending packet") {
  fixture f;
  session& s = f.open();
  fake_get& g = f.held_get_of(s);  // nothing pending: the GET stays held
  int wakes = g.wakes;
  s.on_poll_data("40\x1e" "42[\"a\"]");
  CHECK(g.wakes > wakes);
  CHECK(f.drain(s) == std::vector<std::string>{"40{\"sid\":\"" + std::string(s.sio_sid()) + "\"}"});
}

TEST_CASE("a second GET while one is held ends the session; the first gets the close packet") {
  fixture f;
  session& s = f.open();
  fake_get& first = f.held_get_of(s);
  fake_get second;
  CHECK(s.attach_poll(second) == nullptr);
  CHECK(s.ended());
  CHECK(first.answers.back() == "1");
  CHECK(second.answers.empty());
}

TEST_CASE("the client's close packet answers the held GET with a noop and ends the session") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  f.drain(s);
  fake_get& g = *f.gets[&s];
  f.drain(s);  // held again
  s.on_poll_data("1");
  CHECK(g.answers.back() == "6");
  CHECK(s.ended());
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
}

TEST_CASE("the connection of a held GET closing early ends the session, as a transport error") {
  fixture f;
  session& s = f.open();
  fake_get& g = f.held_get_of(s);
  poll_transport* p = g.held;
  g.held = nullptr;
  p->get_gone(g);
  CHECK(s.ended());
}

TEST_CASE("a session ending with a GET held answers it with what was pending, then close") {
  fixture f;
  session& s = f.open();
  fake_get& g = f.held_get_of(s);
  g.wakes = 0;
  // The connection would answer at its next flush; the session ends before that.
  s.on_poll_data("40");
  CHECK(g.wakes == 1);
  // The CONNECT answer is pending and the GET held: end() must deliver both.
  s.end();
  REQUIRE(g.answers.size() >= 1);
  std::vector<std::string> p = split_payload(g.answers.back());
  REQUIRE(p.size() == 2);
  CHECK(p[0].starts_with("40{"));
  CHECK(p[1] == "1");
}

// --- The upgrade ------------------------------------------------------------------------------

TEST_CASE("upgrade: probe, noop for the held GET, then everything pending moves to the WebSocket") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  fake_get& g = *f.gets[&s];
  fake_ws& probe = f.new_ws();
  REQUIRE(s.begin_upgrade(probe));
  CHECK(s.current_transport() == session::transport_kind::upgrading);
  s.on_ws_message(probe, true, "2probe");
  CHECK(probe.sent == std::vector<std::string>{"3probe"});
  // The GET returns at once (here with the pending CONNECT answer), and so does the next one.
  std::vector<std::string> p = f.drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0].starts_with("40{"));
  CHECK(f.drain(s) == std::vector<std::string>{"6"});
  // Something sent now waits for whichever transport comes next, in order.
  s.send(make_text_frame({"42[\"chat\",1]"}));
  f.drain(s);  // that GET carries it (polling is still the transport until "5")
  CHECK(g.answers.back() == "42[\"chat\",1]");
  g.held = s.attach_poll(g);  // the client's last GET, held during "5"
  REQUIRE(g.held != nullptr);
  s.send(make_text_frame({"42[\"chat\",2]"}));
  g.answers.clear();
  s.on_ws_message(probe, true, "5");
  CHECK(s.current_transport() == session::transport_kind::websocket);
  // The held GET got a noop; the packet it had not carried went to the WebSocket.
  CHECK(g.answers == std::vector<std::string>{"6"});
  CHECK(probe.sent == std::vector<std::string>{"3probe", "42[\"chat\",2]"});
  s.send(make_text_frame({"42[\"chat\",3]"}));
  CHECK(probe.sent.back() == "42[\"chat\",3]");
  CHECK(s.attach_poll(g) == nullptr);  // no polling after the upgrade
  CHECK(s.connected());
}

TEST_CASE("upgrade: the probe vanishing mid-upgrade leaves the session polling") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  f.drain(s);
  fake_ws& probe = f.new_ws();
  REQUIRE(s.begin_upgrade(probe));
  s.on_ws_message(probe, true, "2probe");
  probe.closed = true;
  s.transport_gone(probe);  // its connection closed before "5"
  CHECK(s.current_transport() == session::transport_kind::polling);
  CHECK(s.connected());
  // GETs are held again (no longer answered at once), and the session still delivers.
  CHECK(f.drain(s).empty());
  s.send(make_text_frame({"42[\"chat\",1]"}));
  CHECK(f.drain(s) == std::vector<std::string>{"42[\"chat\",1]"});
  // A new probe may try again.
  fake_ws& again = f.new_ws();
  CHECK(s.begin_upgrade(again));
}

TEST_CASE("upgrade: the polling GET vanishing mid-upgrade ends the session and closes the probe") {
  fixture f;
  session& s = f.open();
  fake_get& g = f.held_get_of(s, true);
  fake_ws& probe = f.new_ws();
  REQUIRE(s.begin_upgrade(probe));
  poll_transport* p = g.held;
  g.held = nullptr;
  p->get_gone(g);
  CHECK(s.ended());
  CHECK(probe.released);
  CHECK(probe.closed);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
}

TEST_CASE("upgrade: a probe that does not finish in upgrade_timeout is dropped") {
  config c = short_timers();
  c.upgrade_timeout_ms = 30;
  c.ping_interval_ms = 1000;
  fixture f(c);
  session& s = f.open();
  f.drain(s);
  s.on_poll_data("40");
  fake_ws& probe = f.new_ws();
  REQUIRE(s.begin_upgrade(probe));
  fake_ws& second = f.new_ws();
  CHECK_FALSE(s.begin_upgrade(second));  // one probe at a time
  f.run_for(80);
  CHECK(probe.closed);
  CHECK(probe.released);
  CHECK(s.current_transport() == session::transport_kind::polling);
  CHECK(s.connected());
}

TEST_CASE("upgrade: anything but 2probe / 5 on the probe drops it, the session keeps polling") {
  fixture f;
  session& s = f.open();
  f.drain(s);
  fake_ws& probe = f.new_ws();
  REQUIRE(s.begin_upgrade(probe));
  s.on_ws_message(probe, true, "42[\"x\"]");
  CHECK(probe.closed);
  CHECK(s.current_transport() == session::transport_kind::polling);
  CHECK_FALSE(s.ended());
}

// --- Server-side disconnect, acks, the handshake ------------------------------------------------

TEST_CASE("a server-side disconnect sends DISCONNECT, leaves the app; with close, closes too") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  s.on_ws_message(ws, true, "40");
  sio_socket* sock = s.socket("/");
  REQUIRE(sock != nullptr);
  sock->disconnect(false);
  CHECK(ws.sent.back() == "41");
  CHECK(s.current_state() == session::state::handshaking);
  CHECK_FALSE(ws.closed);
  CHECK(f.application.calls == std::vector<std::string>{"connect", "disconnect"});
  sock->disconnect(true);  // gone, but still held by its caller: nothing
  CHECK_FALSE(ws.closed);
  s.on_ws_message(ws, true, "40");
  REQUIRE(s.socket("/") != nullptr);
  s.socket("/")->disconnect(true);
  CHECK(ws.sent.back() == "41");
  CHECK(ws.closed);
  CHECK(f.application.calls.back() == "disconnect");
  s.transport_gone(ws);
  CHECK(f.application.calls.size() == 4);  // no second disconnect
}

TEST_CASE("a polling session's server-side disconnect with close gives the GET 41 then close") {
  fixture f;
  session& s = f.open();
  fake_get& g = f.held_get_of(s, true);
  REQUIRE(s.socket("/") != nullptr);
  s.socket("/")->disconnect(true);
  CHECK(s.ended());
  CHECK(split_payload(g.answers.back()) == std::vector<std::string>{"41", "1"});
}

TEST_CASE("the client's ACKs reach the application with their arguments and attachments") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true);
  s.on_ws_message(ws, true, "43[\"early\"]");  // before CONNECT: an error
  CHECK(ws.closed);
  fake_ws& ws2 = f.new_ws();
  session& t = session::create(*f.ctx, &ws2, R"({"channel":"lobby"})", "lobby", true);
  t.on_ws_message(ws2, true, "40");
  t.on_ws_message(ws2, true, "437[{\"ok\":true},2]");
  t.on_ws_message(ws2, true, "461-8[{\"_placeholder\":true,\"num\":0}]");
  t.on_ws_message(ws2, false, "bytes");
  CHECK(f.application.calls == std::vector<std::string>{
                                   "connect", "ack 7 [{\"ok\":true},2] 0",
                                   "ack 8 [{\"_placeholder\":true,\"num\":0}] 1"});
  CHECK_FALSE(ws2.closed);
  s.transport_gone(ws);
}

TEST_CASE("the handshake and the CONNECT's auth are kept for other nodes to fetch") {
  fixture f;
  fake_ws& ws = f.new_ws();
  handshake_record hs;
  hs.set(R"({"host":"x"})", "/socket.io/?EIO=4&transport=websocket");
  hs.address = "127.0.0.9";
  hs.issued_ms = 1700000000000;
  session& s = session::create(*f.ctx, &ws, R"({"channel":"lobby"})", "lobby", true, hs);
  s.on_ws_message(ws, true, "40");
  REQUIRE(s.socket("/") != nullptr);
  CHECK(s.socket("/")->auth_json() == "{}");
  s.on_ws_message(ws, true, "41");
  s.on_ws_message(ws, true, "40{\"token\":\"abc\"}");
  REQUIRE(s.socket("/") != nullptr);
  CHECK(s.socket("/")->auth_json() == "{\"token\":\"abc\"}");
  CHECK(s.handshake().headers_json() == R"({"host":"x"})");
  CHECK(s.handshake().url() == "/socket.io/?EIO=4&transport=websocket");
  CHECK(s.handshake().address == "127.0.0.9");
  CHECK(s.handshake().issued_ms == 1700000000000);
}

TEST_CASE("raw echo: a polling session sends each message packet back, text and binary, and awaits no CONNECT") {
  fixture f;  // connect_timeout 150 ms
  session& s = session::create(*f.ctx, nullptr, "{}", "", false, {}, /*raw_echo=*/true);
  std::string sid(s.eio_sid());
  f.drain(s);  // the open packet
  s.on_poll_data("4hello\x1e" "40\x1e" "bAQIDBA==");
  CHECK(f.drain(s) == std::vector<std::string>{"4hello", "40", "bAQIDBA=="});
  for (int i = 0; i < 12; ++i) {  // past connect_timeout, answering the pings in time
    f.run_for(20);
    for (const std::string& p : f.drain(s)) {
      if (p == "2") s.on_poll_data("3");
    }
  }
  CHECK(f.registry->find(sid) == &s);
  CHECK(f.application.calls.empty());  // no Socket.IO layer: "40" was a message like any other
}

TEST_CASE("raw echo: a WebSocket session sends each message back on its frame kind; a bad packet closes it") {
  fixture f;
  fake_ws& ws = f.new_ws();
  session& s = session::create(*f.ctx, &ws, "{}", "", false, {}, /*raw_echo=*/true);
  s.on_ws_message(ws, true, "4hi");
  s.on_ws_message(ws, false, std::string_view("\x01\x02\x03\x04", 4));
  REQUIRE(ws.sent.size() == 3);
  CHECK(ws.sent[1] == "4hi");
  CHECK(ws.sent[2] == std::string("\x01\x02\x03\x04", 4));
  s.on_ws_message(ws, true, "abc");
  CHECK(ws.closed);
  CHECK(ws.close_code == 1002);
  CHECK(f.application.calls.empty());
}
