// The sharded adapter's wire codec (common/sharded_wire.h) against the bytes real Node servers
// published: tests/fixtures/sharded_messages.json, captured by tests/tools/capture_sharded_messages.js
// from two Socket.IO 4.8 servers with @socket.io/redis-adapter 8.3's createShardedAdapter.

#include "common/sharded_wire.h"

#include "tests/unit/hex_bytes.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <vector>

using namespace chatd::wire::sharded;
using chatd::wire::remote_socket;
using chatd::test::from_hex;
using chatd::test::to_hex;

namespace {

struct captured {
  std::string description;
  std::string from;  // "A" asks and broadcasts, "B" answers
  std::string channel;
  std::string bytes;
};

const std::vector<captured>& fixtures() {
  static const std::vector<captured> all = [] {
    std::vector<captured> out;
    simdjson::dom::parser parser;
    simdjson::dom::array entries;
    const auto loaded =
        parser.load(CHATD_SOURCE_DIR "/tests/fixtures/sharded_messages.json").get(entries);
    REQUIRE(loaded == simdjson::SUCCESS);
    for (simdjson::dom::element e : entries) {
      std::string_view description, from, channel, hex;
      REQUIRE(e["description"].get(description) == simdjson::SUCCESS);
      REQUIRE(e["from"].get(from) == simdjson::SUCCESS);
      REQUIRE(e["channel"].get(channel) == simdjson::SUCCESS);
      REQUIRE(e["hex"].get(hex) == simdjson::SUCCESS);
      out.push_back({std::string(description), std::string(from), std::string(channel),
                     from_hex(hex)});
    }
    return out;
  }();
  return all;
}

// The one fixture with this description and sender, of this type.
message fixture(std::string_view description, message_type type, std::string_view from = "A") {
  for (const auto& f : fixtures()) {
    if (f.description == description && f.from == from) {
      auto m = decode(f.bytes);
      REQUIRE_MESSAGE(m, f.description, ": ", m.error());
      if (m->type == type) {
        return *m;
      }
    }
  }
  FAIL("no fixture ", description, " of type ", static_cast<int>(type));
  return {};
}

constexpr std::string_view k_uid_a = "0000000000000001";
constexpr std::string_view k_uid_b = "0000000000000002";

std::string decode_error(std::string_view bytes) {
  auto m = decode(bytes);
  return m ? std::string("decoded") : m.error();
}

}  // namespace

TEST_CASE("every captured sharded message decodes") {
  REQUIRE(fixtures().size() >= 40);
  std::vector<bool> seen(14, false);
  for (const auto& f : fixtures()) {
    auto m = decode(f.bytes);
    REQUIRE_MESSAGE(m, f.description, ": ", m.error());
    CHECK(m->nsp == "/");
    CHECK(m->uid == (f.from == "A" ? k_uid_a : k_uid_b));
    seen[static_cast<size_t>(m->type)] = true;
  }
  for (int t = 1; t <= 13; ++t) {
    CHECK_MESSAGE(seen[static_cast<size_t>(t)], "no fixture of type ", t);
  }
}

TEST_CASE("every captured sharded message re-encodes to the same bytes") {
  for (const auto& f : fixtures()) {
    auto m = decode(f.bytes);
    REQUIRE_MESSAGE(m, f.description, ": ", m.error());
    auto bytes = encode(*m);
    REQUIRE_MESSAGE(bytes, f.description, ": ", bytes.error());
    CHECK_MESSAGE(to_hex(*bytes) == to_hex(f.bytes), f.description);
  }
}

TEST_CASE("every captured message went to the channel publish_channel or response_channel names") {
  for (const auto& f : fixtures()) {
    auto m = decode(f.bytes);
    REQUIRE_MESSAGE(m, f.description, ": ", m.error());
    const std::string expected = f.from == "B" ? response_channel("socket.io", m->nsp, k_uid_a)
                                               : publish_channel("socket.io", *m);
    CHECK_MESSAGE(expected == f.channel, f.description);
  }
}

TEST_CASE("channel names follow the sharded adapter") {
  CHECK(namespace_channel("socket.io", "/") == "socket.io#/#");
  CHECK(room_channel("socket.io", "/chat", "room1") == "socket.io#/chat#room1#");
  CHECK(response_channel("pfx", "/", "0123456789abcdef") == "pfx#/#0123456789abcdef#");
}

TEST_CASE("looks_like_socket_id counts UTF-16 code units as String.length does") {
  CHECK(looks_like_socket_id("AP223F7XT64zbpYyAAAA"));
  CHECK_FALSE(looks_like_socket_id("AP223F7XT64zbpYyAAA"));
  CHECK_FALSE(looks_like_socket_id("room1"));
  CHECK(looks_like_socket_id("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" "abcdefghijklmno"));  // 5 + 15
  CHECK(looks_like_socket_id("\xf0\x9f\x98\x80" "abcdefghijklmnopqr"));  // an emoji is 2
}

TEST_CASE("a broadcast to one public room goes to its room channel; with an ack, to the namespace") {
  message m;
  m.uid = std::string(k_uid_a);
  m.packet.rooms = {"room1"};
  CHECK(publish_channel("socket.io", m) == "socket.io#/#room1#");
  m.request_id.emplace(k_uid_b);
  CHECK(publish_channel("socket.io", m) == "socket.io#/#");
  m.request_id.reset();
  m.packet.rooms = {"room1", "room2"};
  CHECK(publish_channel("socket.io", m) == "socket.io#/#");
  m.packet.rooms = {"AP223F7XT64zbpYyAAAA"};
  CHECK(publish_channel("socket.io", m) == "socket.io#/#");
  m.type = message_type::sockets_join;
  m.packet.rooms = {"room1"};
  CHECK(publish_channel("socket.io", m) == "socket.io#/#");
}

TEST_CASE("a captured broadcast decodes to its packet and options") {
  message m = fixture("broadcast to one room except", message_type::broadcast);
  CHECK(m.packet.type == 2);
  CHECK(m.packet.nsp == "/");
  CHECK(m.packet.data_json == R"(["chat","x"])");
  CHECK(m.packet.rooms == std::vector<std::string>{"room1"});
  CHECK(m.packet.except == std::vector<std::string>{"kick2"});
  CHECK_FALSE(m.request_id);
  CHECK_FALSE(m.timeout_ms);
  CHECK(fixture("broadcast volatile", message_type::broadcast).packet.volatile_flag);
}

TEST_CASE("a captured binary broadcast is msgpack with placeholders for its Buffers") {
  message m = fixture("broadcast with binary", message_type::broadcast);
  CHECK(m.packet.data_json ==
        R"(["file",{"_placeholder":true,"num":0},{"meta":{"thumb":{"_placeholder":true,"num":1}},"name":"a.bin"}])");
  REQUIRE(m.packet.attachments.size() == 2);
  CHECK(m.packet.attachments[0] == std::string("\x01\x02\x03", 3));
  CHECK(m.packet.attachments[1] == std::string("\x04", 1));
}

TEST_CASE("a captured broadcast with ack carries its requestId and timeout") {
  message m = fixture("broadcast with ack (timeout)", message_type::broadcast);
  CHECK(m.request_id == "0000000000000003");
  CHECK(m.timeout_ms == 2000.0);
  message count = fixture("broadcast with ack (timeout)", message_type::broadcast_client_count, "B");
  CHECK(count.request_id == "0000000000000003");
  CHECK(count.client_count == 3);
  message ack = fixture("broadcast with ack (timeout)", message_type::broadcast_ack, "B");
  CHECK(ack.data.json == R"({"ok":true,"got":"string"})");
  message bin = fixture("broadcast with ack to one room, binary acks", message_type::broadcast_ack, "B");
  CHECK(bin.data.json == R"(["ok",{"_placeholder":true,"num":0}])");
  CHECK(bin.data.attachments == std::vector<std::string>{std::string("\x01\x02", 2)});
}

TEST_CASE("captured socketsJoin, socketsLeave and disconnectSockets decode to their selection") {
  message join = fixture("socketsJoin in room1 except kick1, two rooms", message_type::sockets_join);
  CHECK(join.opts.rooms == std::vector<std::string>{"room1"});
  CHECK(join.opts.except == std::vector<std::string>{"kick1"});
  CHECK(join.rooms == std::vector<std::string>{"r3", "r4"});
  message leave = fixture("socketsLeave in room1", message_type::sockets_leave);
  CHECK(leave.rooms == std::vector<std::string>{"room2", "r3"});
  CHECK(fixture("disconnectSockets(true) in kick2", message_type::disconnect_sockets).close);
  CHECK_FALSE(fixture("disconnectSockets(false) in kick1", message_type::disconnect_sockets).close);
}

TEST_CASE("a captured fetchSockets answer carries each socket's handshake, rooms and data") {
  message req = fixture("fetchSockets in room1 with timeout", message_type::fetch_sockets);
  CHECK(req.request_id == "0000000000000007");
  CHECK(req.timeout_ms == 3000.0);
  CHECK(req.opts.rooms == std::vector<std::string>{"room1"});
  message res = fixture("fetchSockets in room1 with timeout", message_type::fetch_sockets_response, "B");
  REQUIRE(res.sockets.size() == 1);
  const remote_socket& s = res.sockets[0];
  CHECK(s.rooms.size() == 3);
  CHECK(s.rooms[0] == s.id);
  CHECK(s.data_json == R"({"userId":"u1"})");
  CHECK(s.hs.auth_json == R"({"token":"t"})");
  CHECK(s.hs.address == "::ffff:127.0.0.1");
  message bin = fixture("fetchSockets in binroom (binary socket data)",
                        message_type::fetch_sockets_response, "B");
  REQUIRE(bin.sockets.size() == 1);
  CHECK(bin.sockets[0].data_json == R"({"userId":"ub","avatar":{"_placeholder":true,"num":0}})");
  CHECK(bin.sockets[0].data_attachments == std::vector<std::string>{std::string("\xff\x00", 2)});
}

TEST_CASE("captured serverSideEmit requests and answers decode to their arguments") {
  message plain = fixture("serverSideEmit without ack", message_type::server_side_emit);
  CHECK_FALSE(plain.request_id);
  CHECK(plain.data.json == R"(["sse",{"a":1},[1,2.5],"x"])");
  message ask = fixture("serverSideEmit with ack", message_type::server_side_emit);
  CHECK(ask.request_id == "0000000000000008");
  message answer = fixture("serverSideEmit with ack", message_type::server_side_emit_response, "B");
  CHECK(answer.data.json == R"(["pong",2])");
  message none = fixture("serverSideEmit with ack, undefined answer",
                         message_type::server_side_emit_response, "B");
  CHECK(none.data.json.empty());
  message bin = fixture("serverSideEmit with binary argument", message_type::server_side_emit);
  CHECK(bin.data.json == R"(["sse",{"_placeholder":true,"num":0}])");
}

TEST_CASE("a message chatd builds encodes as Node would build it") {
  message m;
  m.uid = "c0ffee";
  m.type = message_type::broadcast;
  m.packet.data_json = R"([ "chat" , {"b":1,"a":2} ])";
  m.packet.rooms = {"room1"};
  auto bytes = encode(m);
  REQUIRE(bytes);
  CHECK(*bytes == R"({"type":3,"data":{"packet":{"type":2,"data":["chat",{"b":1,"a":2}]},)"
                  R"("opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"c0ffee","nsp":"/"})");
  message hb;
  hb.uid = "c0ffee";
  hb.type = message_type::heartbeat;
  CHECK(*encode(hb) == R"({"type":2,"uid":"c0ffee","nsp":"/"})");
  message ack;
  ack.uid = "c0ffee";
  ack.type = message_type::broadcast_ack;
  ack.request_id = "r1";
  ack.data.json = "[1.5e300,null]";
  CHECK(*encode(ack) == R"({"type":12,"data":{"requestId":"r1","packet":[1.5e+300,null]},"uid":"c0ffee","nsp":"/"})");
}

TEST_CASE("a fetchSockets answer chatd builds leaves undefined members out, in JSON and msgpack") {
  message m;
  m.uid = std::string(k_uid_b);
  m.type = message_type::fetch_sockets_response;
  m.request_id.emplace(k_uid_a);
  remote_socket s;
  s.id = "p1";
  s.hs.time = "t";
  s.hs.address = "a";
  s.hs.issued = 5;
  s.hs.auth_json.clear();  // undefined
  s.rooms = {"p1"};
  s.data_json.clear();  // undefined
  m.sockets = {s};
  auto json = encode(m);
  REQUIRE(json);
  CHECK(*json == R"({"type":8,"data":{"requestId":"0000000000000001","sockets":[{"id":"p1",)"
                 R"("handshake":{"headers":{},"time":"t","address":"a","xdomain":false,"secure":false,)"
                 R"("issued":5,"query":{}},"rooms":["p1"]}]},"uid":"0000000000000002","nsp":"/"})");
  m.sockets[0].data_json = R"({"b":{"_placeholder":true,"num":0}})";
  m.sockets[0].data_attachments = {std::string("\x01", 1)};
  auto packed = encode(m);
  REQUIRE(packed);
  CHECK(packed->front() == '\x84');  // msgpack {type, data, uid, nsp}
  auto back = decode(*packed);
  REQUIRE(back);
  REQUIRE(back->sockets.size() == 1);
  CHECK(back->sockets[0].data_json == m.sockets[0].data_json);
  CHECK(back->sockets[0].data_attachments == m.sockets[0].data_attachments);
  CHECK(back->sockets[0].hs.auth_json.empty());
  CHECK_FALSE(back->sockets[0].hs.url);
}

TEST_CASE("encode refuses what Node could not have sent") {
  message fetch;
  fetch.type = message_type::fetch_sockets;
  CHECK(encode(fetch).error().find("requestId") != std::string::npos);
  message b;
  b.packet.data_json = R"({"not":"an array"})";
  CHECK(encode(b).error().find("not a JSON array") != std::string::npos);
  b.packet.data_json = R"(["x",)";
  CHECK_FALSE(encode(b));
  message sse;
  sse.type = message_type::server_side_emit;
  sse.data.json = R"("event")";
  CHECK_FALSE(encode(sse));
  message join;
  join.type = message_type::sockets_join;
  join.opts.rooms = {"r"};
  join.uid = std::string(k_uid_a);
  CHECK(*encode(join) ==
        R"({"type":4,"data":{"opts":{"rooms":["r"],"except":[],"flags":{}},"rooms":[]},"uid":"0000000000000001","nsp":"/"})");
}

TEST_CASE("malformed sharded messages are refused with the reason") {
  CHECK(decode_error("") == "empty message");
  CHECK(decode_error("{").find("JSON: ") == 0);
  CHECK(decode_error("[1]") == "2 trailing bytes");  // '[' is msgpack's fixint 91
  CHECK(decode_error(R"({"uid":"u","nsp":"/"})") == "type is not a message type");
  CHECK(decode_error(R"({"type":14,"uid":"u","nsp":"/"})") == "unknown message type 14");
  CHECK(decode_error(R"({"type":"3","uid":"u","nsp":"/"})") == "type is not a message type");
  CHECK(decode_error(R"({"type":2,"nsp":"/"})") == "uid is not a string");
  CHECK(decode_error(R"({"type":2,"uid":"u"})") == "nsp is not a string");
  CHECK(decode_error(R"({"type":3,"uid":"u","nsp":"/"})") == "data is not an object");
  CHECK(decode_error(R"({"type":3,"uid":"u","nsp":"/","data":{"opts":{}}})") ==
        "data.packet is not a map");
  CHECK(decode_error(R"({"type":3,"uid":"u","nsp":"/","data":{"packet":{"type":2,"data":"x"},"opts":{}}})") ==
        "data.packet.data is not an array");
  CHECK(decode_error(R"({"type":4,"uid":"u","nsp":"/","data":{"opts":{"rooms":"r"}}})") ==
        "data.opts.rooms is not an array");
  CHECK(decode_error(R"({"type":7,"uid":"u","nsp":"/","data":{"opts":{}}})") ==
        "data.requestId is missing");
  CHECK(decode_error(R"({"type":8,"uid":"u","nsp":"/","data":{"requestId":"r"}})") ==
        "data.sockets is not an array");
  CHECK(decode_error(R"({"type":9,"uid":"u","nsp":"/","data":{"packet":[1]}})") ==
        "data.packet is not an [event, ...args] array");
  CHECK(decode_error(R"({"type":11,"uid":"u","nsp":"/","data":{"requestId":"r","clientCount":-1}})") ==
        "data.clientCount is not a count");
  CHECK(decode_error(R"({"type":6,"uid":"u","nsp":"/","data":{"opts":{},"close":1}})") ==
        "data.close is not a boolean");
  CHECK(decode_error(R"({"type":3,"uid":"u","nsp":"/","data":{"packet":{"type":2,"data":[]},"opts":{"flags":{"timeout":"x"}}}})") ==
        "opts.flags.timeout is not a number");
  CHECK(decode_error("{\"type\":2,\"uid\":\"\xff\",\"nsp\":\"/\"}") ==
        "JSON: The input is not valid UTF-8");
  // msgpack {type:2, uid:"\xff", nsp:"/"}: the id is checked, not repaired.
  CHECK(decode_error(from_hex("83a47479706502a3756964a1ffa36e7370a12f")) == "uid is not valid UTF-8");
  // msgpack BROADCAST to the room "r\x9a": rooms are checked, not repaired (found by the fuzzer).
  CHECK(decode_error(from_hex("84a47479706503a46461746182a67061636b657482a47479706502a4646174619"
                              "1a178a46f70747381a5726f6f6d7391a2729aa3756964a175a36e7370a12f")) ==
        "data.opts.rooms holds ill-formed UTF-8");
  // msgpack: truncated, trailing bytes, not a map.
  CHECK(decode_error(from_hex("83a474797065")) == "truncated msgpack");
  CHECK(decode_error(from_hex("80c0")) == "1 trailing bytes");
  CHECK(decode_error(from_hex("93")) == "malformed msgpack: array size overflow");
  CHECK(decode_error(from_hex("90")) == "not an object");
}

TEST_CASE("a join's flags are not read, so it re-encodes as Node sends joins (found by the fuzzer)") {
  auto m = decode(R"({"type":4,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":5}},)"
                  R"("rooms":["a"]},"uid":"u","nsp":"/"})");
  REQUIRE(m);
  CHECK_FALSE(m->timeout_ms);
  CHECK(*encode(*m) ==
        R"({"type":4,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["a"]},"uid":"u","nsp":"/"})");
}

TEST_CASE("a sharded message nested deeper than the bus allows is refused") {
  std::string deep = R"({"type":9,"uid":"u","nsp":"/","data":{"packet":["e",)";
  deep.append(2000, '[');
  deep.append(2000, ']');
  deep += "]}}";
  CHECK_FALSE(decode(deep));
  std::string packed = from_hex("84a474797065" "09" "a3756964a175" "a36e7370a12f" "a464617461" "81a67061636b6574" "92a165");
  packed.append(5000, '\x91');
  packed += '\xc0';
  CHECK_FALSE(decode(packed));
}
