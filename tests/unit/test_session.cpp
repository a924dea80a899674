// The Engine.IO session's state machine on a bare libuv loop: a polling session (no connection
// under it) driven through its packets, with a recording application on "/". Heartbeat, connect
// and ping timeouts, CONNECT / DISCONNECT / close from the client, events and acks, and the
// registry's ownership (an ended session is unlisted at once and freed at collect()).

#include "worker/app.h"
#include "worker/member.h"
#include "worker/session.h"
#include "worker/session_registry.h"
#include "worker/timer_wheel.h"

#include <doctest/doctest.h>

#include <uv.h>

#include <string>
#include <vector>

using namespace chatd;

namespace {

struct recording_app final : app {
  std::vector<std::string> calls;
  bool accept = true;
  void on_connect(member& m) override {
    calls.push_back("connect");
    if (accept) m.accept_connect();
  }
  void on_event(member&, std::string_view name, std::string_view arg) override {
    calls.push_back(std::string("event ") + std::string(name) + " " + std::string(arg));
  }
  void on_binary_event(member&, std::string_view name, std::string_view arg,
                       std::vector<std::string> parts) override {
    calls.push_back(std::string("binary ") + std::string(name) + " " + std::string(arg) + " " +
                    std::to_string(parts.size()));
  }
  void on_disconnect(member&) override { calls.push_back("disconnect"); }
};

config short_timers() {
  config c;
  c.ping_interval_ms = 60;
  c.ping_timeout_ms = 40;
  c.connect_timeout_ms = 150;
  return c;
}

struct fixture {
  uv_loop_t loop{};
  config cfg;
  worker_stats stats;
  recording_app application;
  timer_wheel* timers = nullptr;
  session_registry* registry = nullptr;
  session_context* ctx = nullptr;

  explicit fixture(config c = short_timers()) : cfg(std::move(c)) {
    uv_loop_init(&loop);
    timers = new timer_wheel(&loop, 10, &session::timer_fired, nullptr);
    registry = new session_registry;
    ctx = new session_context{&loop, cfg, 3, stats, *timers, make_text_frame({"2"}), application,
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

// The packets a GET would carry now, split at the record separator.
std::vector<std::string> drain(session& s) {
  std::vector<std::string> out;
  if (!s.poll_ready()) return out;
  std::string payload = s.take_poll_payload();
  size_t pos = 0;
  while (pos <= payload.size()) {
    size_t end = payload.find('\x1e', pos);
    if (end == std::string::npos) end = payload.size();
    out.push_back(payload.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("a new session queues the open packet and is listed under its sid") {
  fixture f;
  session& s = f.open();
  CHECK(s.current_state() == session::state::handshaking);
  CHECK(f.registry->find(s.eio_sid()) == &s);
  std::vector<std::string> p = drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0].starts_with("0{\"sid\":\"" + std::string(s.eio_sid()) + "\""));
  CHECK(p[0].find("\"upgrades\":[\"websocket\"]") != std::string::npos);
  CHECK(p[0].find("\"pingInterval\":60") != std::string::npos);
}

TEST_CASE("CONNECT on / is handed to the application and answered with the socket id") {
  fixture f;
  session& s = f.open();
  drain(s);
  s.on_poll_data("40");
  CHECK(s.current_state() == session::state::connected);
  CHECK(f.application.calls == std::vector<std::string>{"connect"});
  std::vector<std::string> p = drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "40{\"sid\":\"" + std::string(s.sio_sid()) + "\"}");
  CHECK(s.sio_sid().size() == 20);
  CHECK(s.id() == s.sio_sid());
}

TEST_CASE("a CONNECT without a channel gets CONNECT_ERROR and the session stays handshaking") {
  fixture f;
  session& s = f.open("");
  drain(s);
  s.on_poll_data("40");
  CHECK(s.current_state() == session::state::handshaking);
  CHECK(f.application.calls.empty());
  std::vector<std::string> p = drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0].starts_with("44{\"message\":\"missing channel"));
}

TEST_CASE("an unknown namespace gets Invalid namespace") {
  fixture f;
  session& s = f.open();
  drain(s);
  s.on_poll_data("40/admin,");
  CHECK(s.current_state() == session::state::handshaking);
  std::vector<std::string> p = drain(s);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == R"(44/admin,{"message":"Invalid namespace"})");
}

TEST_CASE("events reach the application; a message with an ack id is acknowledged") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  drain(s);
  s.on_poll_data("42[\"message\",{\"body\":\"hi\"}]\x1e" "427[\"message\",1]\x1e" "42[\"other\"]");
  CHECK(f.application.calls ==
        std::vector<std::string>{"connect", "event message {\"body\":\"hi\"}", "event message 1",
                                 "event other "});
  CHECK(drain(s) == std::vector<std::string>{"437[]"});
}

TEST_CASE("a binary event waits for its attachments, then reaches the application") {
  fixture f;
  session& s = f.open();
  s.on_poll_data("40");
  drain(s);
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
  drain(s);
  int pings = 0;
  for (int i = 0; i < 4; ++i) {
    f.run_for(75);
    std::vector<std::string> p = drain(s);
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
