// The abuse limits' sans-IO parts: the token bucket (message rate, rooms per minute), the name
// check (channel, userId), the per-address tables, and chat refusing a CONNECT over them.

#include "common/ip_limits.h"
#include "common/name_check.h"
#include "common/token_bucket.h"
#include "tests/unit/test_member.h"
#include "worker/chat.h"

#include <doctest/doctest.h>

#include <string>

using namespace chatd;
using chatd::testing::test_member;

TEST_CASE("token_bucket: a full bucket allows a burst, then the rate") {
  token_bucket b;
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += b.take(1000, 2, 5) ? 1 : 0;
  CHECK(taken == 5);
  CHECK_FALSE(b.take(1400, 2, 5));  // 0.8 tokens refilled
  CHECK(b.take(1600, 2, 5));        // 1.2 after 600 ms at 2/s
  CHECK_FALSE(b.take(1600, 2, 5));
}

TEST_CASE("token_bucket: refills up to the burst, no further") {
  token_bucket b;
  for (int i = 0; i < 3; ++i) CHECK(b.take(0, 10, 3));
  CHECK_FALSE(b.take(0, 10, 3));
  CHECK(b.full(60000, 10, 3));
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += b.take(60000, 10, 3) ? 1 : 0;
  CHECK(taken == 3);
}

TEST_CASE("token_bucket: rate 0 means no limit") {
  token_bucket b;
  for (int i = 0; i < 1000; ++i) CHECK(b.take(0, 0, 1));
}

TEST_CASE("check_name: printable UTF-8 within the length passes") {
  CHECK_FALSE(check_name("channel", "lobby", 8));
  CHECK_FALSE(check_name("channel", "caf\xC3\xA9 \xF0\x9F\x92\xAC", 6));  // 6 characters, 11 bytes
  CHECK_FALSE(check_name("channel", std::string(1000, 'a'), 0));
}

TEST_CASE("check_name: too long, control characters and bad UTF-8 are refused, with the reason") {
  CHECK(check_name("channel", "abcdefghi", 8).value() == "channel is longer than 8 characters");
  CHECK(check_name("userId", "a\nb", 8).value() == "userId contains a control character");
  CHECK(check_name("userId", std::string("a\0b", 3), 8).value() == "userId contains a control character");
  CHECK(check_name("userId", "a\x7F", 8).value() == "userId contains a control character");
  CHECK(check_name("userId", "a\xC2\x85", 8).value() == "userId contains a control character");  // NEL
  CHECK(check_name("channel", "a\xFF", 8).value() == "channel is not valid UTF-8");
  CHECK(check_name("channel", "\xED\xA0\x80", 8).value() == "channel is not valid UTF-8");  // surrogate
}

TEST_CASE("ip_limits: connections per address, each address on its own") {
  ip_limits l(ip_limit_settings{2, 0, 0});
  CHECK(l.connection_opened("10.0.0.1"));
  CHECK(l.connection_opened("10.0.0.1"));
  CHECK_FALSE(l.connection_opened("10.0.0.1"));
  CHECK(l.connection_opened("10.0.0.2"));
  CHECK(l.connection_opened("10.0.0.1", /*enforce=*/false));  // a hand-over is counted, not refused
  CHECK(l.connections_of("10.0.0.1") == 3);
  l.connection_closed("10.0.0.1");
  l.connection_closed("10.0.0.1");
  CHECK(l.connection_opened("10.0.0.1"));
  l.connection_closed("10.0.0.1");
  l.connection_closed("10.0.0.1");
  l.connection_closed("10.0.0.2");
  CHECK(l.addresses() == 0);
}

TEST_CASE("ip_limits: rooms open at once per address; a closed room frees its place") {
  ip_limits l(ip_limit_settings{0, 0, 2});
  CHECK(l.open_room("ip", "a", 0).empty());
  CHECK(l.open_room("ip", "b", 0).empty());
  CHECK(l.open_room("ip", "a", 0).empty());  // charged already
  CHECK(l.open_room("ip", "c", 0) == "too many rooms opened from this address (limit 2)");
  CHECK(l.open_room("other", "c", 0).empty());
  l.room_closed("a", 0);
  l.room_closed("never-opened", 0);
  CHECK(l.rooms_of("ip") == 1);
  CHECK(l.open_room("ip", "d", 0).empty());
}

TEST_CASE("ip_limits: new rooms per minute per address, refilled over the minute") {
  ip_limits l(ip_limit_settings{0, 3, 0});
  for (const char* r : {"a", "b", "c"}) CHECK(l.open_room("ip", r, 1000).empty());
  CHECK(l.open_room("ip", "d", 1000) == "too many new rooms from this address (limit 3 per minute)");
  l.room_closed("a", 1000);  // closing does not give the minute's budget back
  CHECK_FALSE(l.open_room("ip", "e", 1000).empty());
  CHECK(l.open_room("ip", "e", 22000).empty());  // 21 s: one room's worth
  CHECK_FALSE(l.open_room("ip", "f", 22000).empty());
}

TEST_CASE("chat: a CONNECT over the names or room limits is refused with the reason, counted") {
  worker_stats stats;
  chat c(stats, nullptr);
  ip_limits per_ip(ip_limit_settings{0, 0, 1});
  c.set_connect_limits(chat::connect_limits{8, 4, &per_ip, [] { return uint64_t{0}; }});
  test_member a("a", "lobby"), b("b", "lobby"), x("x", "other"), y("y", "waytoolongchannel"),
      u("u", "lobby");
  a.hs.address = b.hs.address = x.hs.address = "127.0.0.5";
  u.hs.set("{}", "/socket.io/?EIO=4&transport=websocket&channel=lobby&userId=toolong");
  c.on_connect(a);
  c.on_connect(b);  // same room: not new to the worker
  c.on_connect(x);
  c.on_connect(y);
  c.on_connect(u);
  CHECK(a.connected);
  CHECK(b.connected);
  CHECK_FALSE(x.connected);
  CHECK(x.refused == "too many rooms opened from this address (limit 1)");
  CHECK(y.refused == "channel is longer than 8 characters");
  CHECK(u.refused == "userId is longer than 4 characters");
  CHECK(stats.limit_rooms_refused_total.load() == 1);
  CHECK(stats.limit_bad_names_total.load() == 2);
  CHECK(c.sessions() == 2);
  c.on_disconnect(a);
  c.on_disconnect(b);  // the room goes: its place is free again
  c.on_connect(x);
  CHECK(x.connected);
  c.on_disconnect(x);
}
