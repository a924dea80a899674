// The Redis layout of history and connection state recovery (common/recovery_wire.h): stream
// ids, the recorded broadcast (entry and spliced pub/sub message), entries read back, the
// replay rule, offsets on delivered packets, the session record.

#include "common/base64.h"
#include "common/bus_wire.h"
#include "common/recovery_wire.h"
#include "common/socketio.h"

#include <doctest/doctest.h>

using namespace chatd;
using namespace chatd::recovery_wire;

namespace {

wire::broadcast chat_broadcast() {
  wire::broadcast b;
  b.uid = "abc123";
  b.data_json = R"(["chat",{"body":"hi","n":1}])";
  b.rooms = {"lobby"};
  b.except = {"sid-of-the-sender-xx"};
  return b;
}

}  // namespace

TEST_CASE("recovery_wire: stream ids parse only as Redis writes them, and order numerically") {
  CHECK(parse_stream_id("1700000000000-0") == stream_id{1700000000000, 0});
  CHECK(parse_stream_id("5-12") == stream_id{5, 12});
  CHECK_FALSE(parse_stream_id("5"));
  CHECK_FALSE(parse_stream_id("5-"));
  CHECK_FALSE(parse_stream_id("-5"));
  CHECK_FALSE(parse_stream_id("5-1x"));
  CHECK_FALSE(parse_stream_id("+"));
  CHECK_FALSE(parse_stream_id("MzUPkW0"));  // the in-memory adapter's offsets are not ours
  CHECK_FALSE(parse_stream_id("99999999999999999999999-0"));
  CHECK(*parse_stream_id("10-0") > *parse_stream_id("9-99"));
  CHECK(to_string(stream_id{7, 3}) == "7-3");
}

TEST_CASE("recovery_wire: keys: the namespace stream is redis.key, rooms and sessions below it") {
  CHECK(namespace_stream_key("socket.io") == "socket.io");
  CHECK(history_stream_key("socket.io", "/", "lobby") == "socket.io#/#lobby#history");
  CHECK(session_key("socket.io", "PID") == "socket.io:session:PID");
}

TEST_CASE("recovery_wire: a recorded broadcast's entry data is the streams adapter's {packet, opts}") {
  auto r = record_broadcast(chat_broadcast());
  REQUIRE(r);
  CHECK(r->entry_data ==
        R"({"packet":{"type":2,"data":["chat",{"body":"hi","n":1}],"nsp":"/"},)"
        R"("opts":{"rooms":["lobby"],"except":["sid-of-the-sender-xx"],"flags":{}}})");
}

TEST_CASE("recovery_wire: the spliced message equals the adapter's message with the id last in data") {
  wire::broadcast b = chat_broadcast();
  auto r = record_broadcast(b);
  REQUIRE(r);
  wire::broadcast with_id = b;
  with_id.data_json = R"(["chat",{"body":"hi","n":1},"1700000000000-5"])";
  auto expected_bytes = wire::encode_broadcast(with_id);
  REQUIRE(expected_bytes);
  CHECK(splice_offset(*r, "1700000000000-5") == *expected_bytes);
  // And it decodes as any node would: the offset is the last argument.
  auto back = wire::decode_broadcast(splice_offset(*r, "1700000000000-5"));
  REQUIRE(back);
  CHECK(back->data_json == with_id.data_json);
  CHECK(offset_of(back->data_json) == stream_id{1700000000000, 5});
}

TEST_CASE("recovery_wire: a data array of 15 elements grows to an array16 header with the offset") {
  wire::broadcast b = chat_broadcast();
  b.data_json = R"(["e",1,2,3,4,5,6,7,8,9,10,11,12,13,14])";
  auto r = record_broadcast(b);
  REQUIRE(r);
  wire::broadcast with_id = b;
  with_id.data_json = R"(["e",1,2,3,4,5,6,7,8,9,10,11,12,13,14,"1-1"])";
  CHECK(splice_offset(*r, "1-1") == *wire::encode_broadcast(with_id));
}

TEST_CASE("recovery_wire: binary, ack-expecting and volatile broadcasts are not recorded") {
  wire::broadcast b = chat_broadcast();
  b.attachments = {"x"};
  CHECK_FALSE(record_broadcast(b));
  b = chat_broadcast();
  b.has_ack_id = true;
  CHECK_FALSE(record_broadcast(b));
  b = chat_broadcast();
  b.volatile_flag = true;
  CHECK_FALSE(record_broadcast(b));
  b = chat_broadcast();
  b.data_json = "{}";
  CHECK_FALSE(record_broadcast(b));
}

TEST_CASE("recovery_wire: an entry of ours reads back as the packet and its rooms") {
  auto r = record_broadcast(chat_broadcast());
  REQUIRE(r);
  auto e = decode_entry("/", "3", r->entry_data, "/");
  REQUIRE(e);
  REQUIRE(e->has_value());
  CHECK((*e)->data_json == R"(["chat",{"body":"hi","n":1}])");
  CHECK((*e)->rooms == std::vector<std::string>{"lobby"});
  CHECK((*e)->except == std::vector<std::string>{"sid-of-the-sender-xx"});
}

TEST_CASE("recovery_wire: entries of other namespaces, other types, acks, volatile or binary are skipped") {
  const std::string plain = R"({"packet":{"type":2,"data":["x"],"nsp":"/"},"opts":{"rooms":[],"except":[]}})";
  CHECK_FALSE(decode_entry("/admin", "3", plain, "/")->has_value());
  CHECK_FALSE(decode_entry("/", "2", "", "/")->has_value());  // a Node heartbeat
  CHECK_FALSE(decode_entry("/", "3", "gqRkYXRh", "/")->has_value());  // base64 msgpack: binary
  CHECK_FALSE(decode_entry("/", "3", R"({"packet":{"type":2,"data":["x"],"id":3},"opts":{"rooms":[]}})", "/")->has_value());
  CHECK_FALSE(decode_entry("/", "3", R"({"packet":{"type":2,"data":["x"]},"opts":{"flags":{"volatile":true}}})", "/")->has_value());
  CHECK(decode_entry("/", "3", plain, "/")->has_value());
  // A Node entry without except reads as excluding nobody.
  auto node = decode_entry("/", "3", R"({"packet":{"type":2,"data":["x",1]},"opts":{"rooms":["r"]}})", "/");
  REQUIRE(node);
  REQUIRE(node->has_value());
  CHECK((*node)->except.empty());
}

TEST_CASE("recovery_wire: an unreadable broadcast entry is an error, not a silent skip") {
  CHECK_FALSE(decode_entry("/", "3", "{not json", "/"));
  CHECK_FALSE(decode_entry("/", "3", R"({"packet":{"type":2,"data":"x"},"opts":{}})", "/"));
  CHECK_FALSE(decode_entry("/", "3", R"({"packet":{"type":2,"data":["x"]},"opts":{"rooms":[1]}})", "/"));
}

TEST_CASE("recovery_wire: a missed packet is replayed to a session in one of its rooms, unless excluded") {
  replay_event e;
  e.rooms = {"lobby"};
  e.except = {"me"};
  CHECK(should_include({"you", "lobby"}, e));
  CHECK_FALSE(should_include({"me", "lobby"}, e));  // its own message
  CHECK_FALSE(should_include({"you", "other"}, e));
  e.rooms.clear();  // to everybody
  CHECK(should_include({"you", "other"}, e));
}

TEST_CASE("recovery_wire: with_offset appends the id as the last element") {
  CHECK(with_offset(R"(["chat",{"a":1}])", "1-2") == R"(["chat",{"a":1},"1-2"])");
  CHECK(with_offset(R"(["chat"] )", "1-2") == R"(["chat","1-2"])");
  CHECK(with_offset("[]", "1-2") == R"(["1-2"])");
}

TEST_CASE("recovery_wire: offset_of finds a stream id only as a real last element") {
  CHECK(offset_of(R"(["chat",{"a":1},"17-3"])") == stream_id{17, 3});
  CHECK_FALSE(offset_of(R"(["chat",{"a":1}])"));
  CHECK_FALSE(offset_of(R"(["chat","hello"])"));
  // A payload string that ends like an offset is inside one string: no boundary.
  CHECK_FALSE(offset_of(R"(["chat","x\",\"17-3"])"));
  CHECK_FALSE(offset_of(R"(["17-3"])"));  // an event named like an id has no offset
}

TEST_CASE("recovery_wire: a session record round-trips and is the streams adapter's msgpack map") {
  session_record s{"sid-aaaaaaaaaaaaaaaa", "pid-bbbbbbbbbbbbbbbb", {"sid-aaaaaaaaaaaaaaaa", "lobby"}};
  std::string text = encode_session(s);
  auto bytes = base64::decode(text);
  REQUIRE(bytes);
  CHECK(static_cast<unsigned char>((*bytes)[0]) == 0x84);  // a map of 4: sid, pid, rooms, data
  auto back = decode_session(text);
  REQUIRE(back);
  CHECK(back->sid == s.sid);
  CHECK(back->pid == s.pid);
  CHECK(back->rooms == s.rooms);
}

TEST_CASE("recovery_wire: a bad session record says what is wrong") {
  CHECK(decode_session("%%%").error() == "session record: not base64");
  CHECK_FALSE(decode_session(base64::encode("\x81\xa3sid\xa1x")));  // no pid, no rooms
  CHECK_FALSE(decode_session(base64::encode("\x93\x01\x02\x03")));  // not a map
}

TEST_CASE("recovery_wire: the CONNECT reply with recovery carries the pid after the sid") {
  CHECK(chatd::sio::encode_connect_reply("/", "AAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBB") ==
        R"(40{"sid":"AAAAAAAAAAAAAAAAAAAA","pid":"BBBBBBBBBBBBBBBBBBBB"})");
  CHECK(chatd::sio::encode_connect_reply("/admin", "s", "p") == R"(40/admin,{"sid":"s","pid":"p"})");
}
