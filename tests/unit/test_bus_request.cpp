// Tests of the redis-adapter request/response channel codec (common/bus_request.h): every request
// and response a real @socket.io/redis-adapter 8.3 (socket.io 4.8, notepack.io 3.0.1) and
// @socket.io/redis-emitter 5 published decodes to the right fields; chatd's answers and requests
// equal the Node bytes for the same values; hostile input is refused with a reason.
//
// Fixtures: bytes captured from the real adapter by tests/tools/capture_bus_requests.js (a real
// redis-server, two Socket.IO servers A and B, a PSUBSCRIBE recorder; uid2 made deterministic, so
// A's uid is id0000 and request ids count up). Requests are A's (or the emitter's); responses are
// B's, with its clients connected with query {channel, userId} and auth {token: "t"}. The same
// script feeds the "chatd-encoded" answers below to a real adapter and checks what it resolves.

#include "common/bus_request.h"
#include "tests/unit/hex_bytes.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace chatd;
using namespace chatd::wire;

namespace {

using test::from_hex;
using test::to_hex;

using strings = std::vector<std::string>;

// fetchSockets all (socket.io-request#/#)
const std::string k_fetch_all_req =
    R"j({"uid":"id0000","requestId":"id0002","type":5,"opts":{"rooms":[],"except":[]}})j";
// fetchSockets all (socket.io-response#/#)
const std::string k_fetch_all_resp =
    R"j({"requestId":"id0002","sockets":[{"id":"bk1rh8Nb6eAX51t_AAAA","handshake":{"headers":{"s)j"
    R"j(ec-websocket-version":"13","sec-websocket-key":"ADhqhWBwp3cs7JpVVU0Paw==","connection":")j"
    R"j(Upgrade","upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; client_ma)j"
    R"j(x_window_bits","host":"127.0.0.1:36453"},"time":"Thu Dec 03 2026 09:36:29 GMT+0000 (Coor)j"
    R"j(dinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"is)j"
    R"j(sued":1796290589367,"url":"/socket.io/?channel=room1&userId=u1&EIO=4&transport=websocket)j"
    R"j(","query":{"channel":"room1","userId":"u1","EIO":"4","transport":"websocket"},"auth":{"t)j"
    R"j(oken":"t"}},"rooms":["bk1rh8Nb6eAX51t_AAAA","room1"],"data":{"userId":"u1"}},{"id":"yfLI)j"
    R"j(8ndB7-3RpG_lAAAB","handshake":{"headers":{"sec-websocket-version":"13","sec-websocket-ke)j"
    R"j(y":"SXrB24rfch/3KzL8UIIxaw==","connection":"Upgrade","upgrade":"websocket","sec-websocke)j"
    R"j(t-extensions":"permessage-deflate; client_max_window_bits","host":"127.0.0.1:36453"},"ti)j"
    R"j(me":"Thu Dec 03 2026 09:36:29 GMT+0000 (Coordinated Universal Time)","address":"::ffff:1)j"
    R"j(27.0.0.1","xdomain":false,"secure":false,"issued":1796290589370,"url":"/socket.io/?chann)j"
    R"j(el=kick1&userId=u2&EIO=4&transport=websocket","query":{"channel":"kick1","userId":"u2",")j"
    R"j(EIO":"4","transport":"websocket"},"auth":{"token":"t"}},"rooms":["yfLI8ndB7-3RpG_lAAAB",)j"
    R"j("kick1"],"data":{"userId":"u2"}},{"id":"yTXEARnD04oYPRXsAAAC","handshake":{"headers":{"s)j"
    R"j(ec-websocket-version":"13","sec-websocket-key":"Y4NEqt2jHsvUy9B0vmKerA==","connection":")j"
    R"j(Upgrade","upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; client_ma)j"
    R"j(x_window_bits","host":"127.0.0.1:36453"},"time":"Thu Dec 03 2026 09:36:29 GMT+0000 (Coor)j"
    R"j(dinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"is)j"
    R"j(sued":1796290589372,"url":"/socket.io/?channel=kick2&userId=u3&EIO=4&transport=websocket)j"
    R"j(","query":{"channel":"kick2","userId":"u3","EIO":"4","transport":"websocket"},"auth":{"t)j"
    R"j(oken":"t"}},"rooms":["yTXEARnD04oYPRXsAAAC","kick2"],"data":{"userId":"u3"}}]})j";
// fetchSockets in room1 except kick1 (socket.io-request#/#)
const std::string k_fetch_room_req =
    R"j({"uid":"id0000","requestId":"id0003","type":5,"opts":{"rooms":["room1"],"except":["kick1)j"
    R"j("]}})j";
// fetchSockets in room1 except kick1 (socket.io-response#/#)
const std::string k_fetch_room_resp =
    R"j({"requestId":"id0003","sockets":[{"id":"bk1rh8Nb6eAX51t_AAAA","handshake":{"headers":{"s)j"
    R"j(ec-websocket-version":"13","sec-websocket-key":"ADhqhWBwp3cs7JpVVU0Paw==","connection":")j"
    R"j(Upgrade","upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; client_ma)j"
    R"j(x_window_bits","host":"127.0.0.1:36453"},"time":"Thu Dec 03 2026 09:36:29 GMT+0000 (Coor)j"
    R"j(dinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"is)j"
    R"j(sued":1796290589367,"url":"/socket.io/?channel=room1&userId=u1&EIO=4&transport=websocket)j"
    R"j(","query":{"channel":"room1","userId":"u1","EIO":"4","transport":"websocket"},"auth":{"t)j"
    R"j(oken":"t"}},"rooms":["bk1rh8Nb6eAX51t_AAAA","room1"],"data":{"userId":"u1"}}]})j";
// allRooms (socket.io-request#/#)
const std::string k_all_rooms_req = R"j({"uid":"id0000","requestId":"id0004","type":1})j";
// allRooms (socket.io-response#/#)
const std::string k_all_rooms_resp =
    R"j({"requestId":"id0004","rooms":["bk1rh8Nb6eAX51t_AAAA","room1","yfLI8ndB7-3RpG_lAAAB","ki)j"
    R"j(ck1","yTXEARnD04oYPRXsAAAC","kick2"]})j";
// socketsJoin room2 (socket.io-request#/#)
const std::string k_join_req =
    R"j({"uid":"id0000","type":2,"opts":{"rooms":[],"except":[]},"rooms":["room2"]})j";
// socketsLeave in room1 [room2, room3] (socket.io-request#/#)
const std::string k_leave_req =
    R"j({"uid":"id0000","type":3,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2","room3")j"
    R"j(]})j";
// disconnectSockets(false) in kick1 (socket.io-request#/#)
const std::string k_disconnect_false_req =
    R"j({"uid":"id0000","type":4,"opts":{"rooms":["kick1"],"except":[]},"close":false})j";
// disconnectSockets(true) in kick2 (socket.io-request#/#)
const std::string k_disconnect_true_req =
    R"j({"uid":"id0000","type":4,"opts":{"rooms":["kick2"],"except":[]},"close":true})j";
// serverSideEmit no ack (socket.io-request#/#)
const std::string k_sse_req = R"j({"uid":"id0000","type":6,"data":["sse",{"a":1},[1,2.5],"x"]})j";
// serverSideEmit with ack (socket.io-request#/#)
const std::string k_sse_ack_req = R"j({"uid":"id0000","requestId":"id0005","type":6,"data":["sse-ack",2]})j";
// serverSideEmit with ack (socket.io-response#/#)
const std::string k_sse_ack_resp = R"j({"type":6,"requestId":"id0005","data":["pong",2]})j";
// serverSideEmitWithAck (socket.io-request#/#)
const std::string k_sse_with_ack_req = R"j({"uid":"id0000","requestId":"id0006","type":6,"data":["sse-ack",3]})j";
// serverSideEmitWithAck (socket.io-response#/#)
const std::string k_sse_with_ack_resp = R"j({"type":6,"requestId":"id0006","data":["pong",3]})j";
// timeout().emit with ack (socket.io-request#/#)
const std::string k_bcast_ack_req = from_hex(
    "85a3756964a6696430303030a9726571756573744964a6696430303037a47479706507a67061636b657483a47479"
    "706502a46461746192a361736ba171a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61"
    "677381a774696d656f7574cd07d0");
// timeout().emit with ack (socket.io-response#/#)
const std::string k_bcast_count_resp = R"j({"type":8,"requestId":"id0007","clientCount":1})j";
// timeout().emit with ack (socket.io-response#/#)
const std::string k_bcast_ack_resp = from_hex(
    "83a47479706509a9726571756573744964a6696430303037a67061636b657483a26f6bc3a3676f74a6737472696e"
    "67a362696ec4020102");
// timeout().emit binary with ack in room1 (socket.io-request#/#)
const std::string k_bcast_bin_req = from_hex(
    "85a3756964a6696430303030a9726571756573744964a6696430303038a47479706507a67061636b657483a47479"
    "706502a46461746193a361736bc402dead81a16e01a36e7370a12fa46f70747383a5726f6f6d7391a5726f6f6d31"
    "a665786365707490a5666c61677381a774696d656f7574cd07d0");
// timeout().emit binary with ack in room1 (socket.io-response#/#)
const std::string k_bcast_bin_count_resp = R"j({"type":8,"requestId":"id0008","clientCount":1})j";
// timeout().emit binary with ack in room1 (socket.io-response#/#)
const std::string k_bcast_bin_ack_resp = from_hex(
    "83a47479706509a9726571756573744964a6696430303038a67061636b657483a26f6bc3a3676f74a66f626a6563"
    "74a362696ec4020102");
// legacy SOCKETS (6.x form) (socket.io-request#/#)
const std::string k_legacy_sockets_req = R"j({"uid":"legacy","requestId":"lg0001","type":0,"rooms":["room1"]})j";
// legacy SOCKETS (6.x form) (socket.io-response#/#)
const std::string k_legacy_sockets_resp = R"j({"requestId":"lg0001","sockets":["bk1rh8Nb6eAX51t_AAAA"]})j";
// legacy SOCKETS (6.x form) (socket.io-response#/#)
const std::string k_legacy_sockets_self_resp = R"j({"requestId":"lg0001","sockets":[]})j";
// legacy REMOTE_JOIN sid/room (6.x form) (socket.io-request#/#)
const std::string k_legacy_join_req =
    R"j({"uid":"legacy","requestId":"lg0002","type":2,"sid":"bk1rh8Nb6eAX51t_AAAA","room":"r9"})j";
// legacy REMOTE_JOIN sid/room (6.x form) (socket.io-response#/#)
const std::string k_legacy_join_resp = R"j({"requestId":"lg0002"})j";
// emitter socketsJoin (socket.io-request#/#)
const std::string k_emitter_join_req = R"j({"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["e1"]})j";
// emitter socketsLeave (socket.io-request#/#)
const std::string k_emitter_leave_req = R"j({"type":3,"opts":{"rooms":[],"except":["room1"]},"rooms":["e1","e2"]})j";
// emitter disconnectSockets (socket.io-request#/#)
const std::string k_emitter_disconnect_req = R"j({"type":4,"opts":{"rooms":["nobody"],"except":[]},"close":true})j";
// emitter serverSideEmit (socket.io-request#/#)
const std::string k_emitter_sse_req = R"j({"uid":"emitter","type":6,"data":["sse","from-emitter",7]})j";

bus_request req(const std::string& bytes) {
  auto r = decode_request(bytes);
  INFO("bytes: " << bytes);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error()));
  return *r;
}

bus_response resp(const std::string& bytes) {
  auto r = decode_response(bytes);
  INFO("bytes: " << bytes);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error()));
  return *r;
}

// The reason a request is refused ("" if it was accepted).
std::string refusal(const std::string& bytes) {
  auto r = decode_request(bytes);
  return r ? std::string() : r.error();
}

std::string response_refusal(const std::string& bytes) {
  auto r = decode_response(bytes);
  return r ? std::string() : r.error();
}

// The request decoded and encoded again is the same bytes: chatd sends what Node sends.
void check_reencodes(const std::string& bytes) {
  auto again = encode_request(req(bytes));
  REQUIRE_MESSAGE(again.has_value(), (again ? std::string() : again.error()));
  CHECK_MESSAGE(*again == bytes, "chatd: " << to_hex(*again) << "\nnode:  " << to_hex(bytes));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Requests from a Node 8.3 adapter.

TEST_CASE("fetchSockets request decodes to REMOTE_FETCH with an empty selection") {
  auto r = req(k_fetch_all_req);
  CHECK(r.type == request_type::remote_fetch);
  CHECK(r.uid == "id0000");
  CHECK(r.request_id == "id0002");
  REQUIRE(r.opts);
  CHECK(r.opts->rooms.empty());
  CHECK(r.opts->except.empty());
}

TEST_CASE("in(room).except(room).fetchSockets request carries rooms and except") {
  auto r = req(k_fetch_room_req);
  CHECK(r.type == request_type::remote_fetch);
  CHECK(r.request_id == "id0003");
  REQUIRE(r.opts);
  CHECK(r.opts->rooms == strings{"room1"});
  CHECK(r.opts->except == strings{"kick1"});
}

TEST_CASE("allRooms request decodes to ALL_ROOMS") {
  auto r = req(k_all_rooms_req);
  CHECK(r.type == request_type::all_rooms);
  CHECK(r.uid == "id0000");
  CHECK(r.request_id == "id0004");
  CHECK_FALSE(r.opts);
}

TEST_CASE("socketsJoin and socketsLeave requests carry the selection and the rooms") {
  auto j = req(k_join_req);
  CHECK(j.type == request_type::remote_join);
  CHECK_FALSE(j.request_id);
  REQUIRE(j.opts);
  CHECK(j.opts->rooms.empty());
  CHECK(j.rooms == strings{"room2"});
  auto l = req(k_leave_req);
  CHECK(l.type == request_type::remote_leave);
  REQUIRE(l.opts);
  CHECK(l.opts->rooms == strings{"room1"});
  CHECK(l.rooms == strings{"room2", "room3"});
}

TEST_CASE("disconnectSockets requests carry close false and true") {
  auto f = req(k_disconnect_false_req);
  CHECK(f.type == request_type::remote_disconnect);
  REQUIRE(f.opts);
  CHECK(f.opts->rooms == strings{"kick1"});
  CHECK_FALSE(f.close);
  auto t = req(k_disconnect_true_req);
  CHECK(t.opts->rooms == strings{"kick2"});
  CHECK(t.close);
}

TEST_CASE("serverSideEmit without ack has data and no requestId") {
  auto r = req(k_sse_req);
  CHECK(r.type == request_type::server_side_emit);
  CHECK_FALSE(r.request_id);
  CHECK(r.data.json == R"(["sse",{"a":1},[1,2.5],"x"])");
  CHECK(r.data.attachments.empty());
}

TEST_CASE("serverSideEmit with ack and serverSideEmitWithAck carry a requestId") {
  auto a = req(k_sse_ack_req);
  CHECK(a.request_id == "id0005");
  CHECK(a.data.json == R"(["sse-ack",2])");
  auto b = req(k_sse_with_ack_req);
  CHECK(b.request_id == "id0006");
  CHECK(b.data.json == R"(["sse-ack",3])");
}

TEST_CASE("timeout().emitWithAck request is a msgpack BROADCAST with packet, opts and timeout") {
  auto r = req(k_bcast_ack_req);
  CHECK(r.type == request_type::broadcast);
  CHECK(r.uid == "id0000");
  CHECK(r.request_id == "id0007");
  CHECK(r.packet.uid == "id0000");
  CHECK(r.packet.type == 2);
  CHECK(r.packet.nsp == "/");
  CHECK(r.packet.data_json == R"(["ask","q"])");
  CHECK_FALSE(r.packet.has_ack_id);  // published before socket.io-adapter numbers the packet
  CHECK(r.packet.rooms.empty());
  REQUIRE(r.timeout_ms);
  CHECK(*r.timeout_ms == 2000);
}

TEST_CASE("a BROADCAST request's Buffer becomes a placeholder and an attachment") {
  auto r = req(k_bcast_bin_req);
  CHECK(r.request_id == "id0008");
  CHECK(r.packet.rooms == strings{"room1"});
  CHECK(r.packet.data_json == R"(["ask",{"_placeholder":true,"num":0},{"n":1}])");
  CHECK(r.packet.attachments == strings{std::string("\xde\xad")});
}

TEST_CASE("socket.io-redis 6.x SOCKETS and single-socket REMOTE_JOIN requests decode") {
  auto s = req(k_legacy_sockets_req);
  CHECK(s.type == request_type::sockets);
  CHECK(s.request_id == "lg0001");
  CHECK(s.rooms == strings{"room1"});
  auto j = req(k_legacy_join_req);
  CHECK(j.type == request_type::remote_join);
  CHECK_FALSE(j.opts);
  CHECK(j.sid.size() == 20);
  CHECK(j.room == "r9");
  CHECK(j.request_id == "lg0002");
}

TEST_CASE("emitter requests have no uid, except serverSideEmit's \"emitter\"") {
  auto j = req(k_emitter_join_req);
  CHECK(j.type == request_type::remote_join);
  CHECK_FALSE(j.uid);
  CHECK(j.opts->rooms == strings{"room1"});
  CHECK(j.rooms == strings{"e1"});
  auto l = req(k_emitter_leave_req);
  CHECK(l.opts->except == strings{"room1"});
  CHECK(l.rooms == strings{"e1", "e2"});
  auto d = req(k_emitter_disconnect_req);
  CHECK(d.close);
  CHECK(d.opts->rooms == strings{"nobody"});
  auto e = req(k_emitter_sse_req);
  CHECK(e.uid == "emitter");
  CHECK(e.data.json == R"(["sse","from-emitter",7])");
}

TEST_CASE("a JSON request sent as msgpack decodes the same") {
  // What a Node peer with a custom parser, or a 6.x node, may send: the same object in notepack.
  auto json = req(k_leave_req);
  auto packed = req(from_hex("84a3756964a6696430303030a47479706503a46f70747382a5726f6f6d7391a5726f6f"
                             "6d31a665786365707490a5726f6f6d7392a5726f6f6d32a5726f6f6d33"));
  CHECK(packed.type == json.type);
  CHECK(packed.uid == json.uid);
  CHECK(packed.opts->rooms == json.opts->rooms);
  CHECK(packed.rooms == json.rooms);
}

// ---------------------------------------------------------------------------------------------
// chatd's own requests equal Node's.

TEST_CASE("chatd's requests are byte for byte a Node adapter's") {
  for (const std::string* bytes :
       {&k_fetch_all_req, &k_fetch_room_req, &k_all_rooms_req, &k_join_req, &k_leave_req,
        &k_disconnect_false_req, &k_disconnect_true_req, &k_sse_req, &k_sse_ack_req,
        &k_legacy_sockets_req, &k_emitter_sse_req, &k_bcast_ack_req, &k_bcast_bin_req}) {
    check_reencodes(*bytes);
  }
}

TEST_CASE("chatd does not send requests without a uid or the 6.x single-socket forms") {
  CHECK_FALSE(encode_request(req(k_emitter_join_req)).has_value());
  CHECK_FALSE(encode_request(req(k_legacy_join_req)).has_value());
}

TEST_CASE("a SERVER_SIDE_EMIT request's data must be a JSON array") {
  bus_request r;
  r.type = request_type::server_side_emit;
  r.uid = "u";
  r.data.json = R"({"not":"an array"})";
  CHECK_FALSE(encode_request(r).has_value());
  r.data.json = "[\"ev\", 1";
  CHECK_FALSE(encode_request(r).has_value());
  r.data.json = " [ \"ev\" , 1 ] ";
  auto ok = encode_request(r);
  REQUIRE(ok.has_value());
  CHECK(*ok == R"({"uid":"u","type":6,"data":["ev",1]})");
}

// ---------------------------------------------------------------------------------------------
// Responses from a Node 8.3 adapter, and chatd's equal ones.

TEST_CASE("REMOTE_FETCH response decodes sockets with handshake, rooms and data") {
  auto r = resp(k_fetch_room_resp);
  CHECK(r.request_id == "id0003");
  CHECK_FALSE(r.type);
  REQUIRE(r.sockets);
  REQUIRE(r.sockets->size() == 1);
  const remote_socket& s = r.sockets->front();
  CHECK(s.id.size() == 20);
  CHECK(s.rooms == strings{s.id, "room1"});
  CHECK(s.data_json == R"({"userId":"u1"})");
  CHECK(s.hs.address == "::ffff:127.0.0.1");
  CHECK_FALSE(s.hs.xdomain);
  CHECK_FALSE(s.hs.secure);
  CHECK(s.hs.issued > 1700000000000u);
  REQUIRE(s.hs.url);
  CHECK(s.hs.url->rfind("/socket.io/?channel=room1&userId=u1", 0) == 0);
  CHECK(s.hs.query_json == R"({"channel":"room1","userId":"u1","EIO":"4","transport":"websocket"})");
  CHECK(s.hs.auth_json == R"({"token":"t"})");
  CHECK(s.hs.headers_json.find(R"("upgrade":"websocket")") != std::string::npos);
  CHECK(resp(k_fetch_all_resp).sockets->size() == 3);
}

TEST_CASE("chatd's REMOTE_FETCH response is byte for byte a Node adapter's") {
  for (const std::string* bytes : {&k_fetch_room_resp, &k_fetch_all_resp}) {
    auto r = resp(*bytes);
    auto mine = encode_fetch_response(r.request_id, *r.sockets);
    REQUIRE_MESSAGE(mine.has_value(), (mine ? std::string() : mine.error()));
    CHECK(*mine == *bytes);
  }
}

TEST_CASE("ALL_ROOMS response decodes and chatd's equals it") {
  auto r = resp(k_all_rooms_resp);
  CHECK(r.request_id == "id0004");
  REQUIRE(r.rooms);
  CHECK(r.rooms->size() == 6);
  CHECK(r.rooms->at(1) == "room1");
  CHECK(*encode_all_rooms_response(r.request_id, *r.rooms) == k_all_rooms_resp);
}

TEST_CASE("SOCKETS response (to a 6.x request) decodes to ids and chatd's equals it") {
  auto r = resp(k_legacy_sockets_resp);
  CHECK(r.request_id == "lg0001");
  REQUIRE(r.socket_ids);
  CHECK(r.socket_ids->size() == 1);
  CHECK_FALSE(r.sockets);
  CHECK(*encode_sockets_response(r.request_id, *r.socket_ids) == k_legacy_sockets_resp);
  auto empty = resp(k_legacy_sockets_self_resp);
  CHECK(empty.socket_ids->empty());
  CHECK(empty.sockets->empty());  // an empty answer fits both questions
  CHECK(*encode_sockets_response("lg0001", {}) == k_legacy_sockets_self_resp);
}

TEST_CASE("the answer to a 6.x single-socket join is {requestId}") {
  auto r = resp(k_legacy_join_resp);
  CHECK(r.request_id == "lg0002");
  CHECK_FALSE(r.type);
  CHECK(*encode_done_response("lg0002") == k_legacy_join_resp);
}

TEST_CASE("SERVER_SIDE_EMIT ack response decodes and chatd's equals it") {
  auto r = resp(k_sse_ack_resp);
  CHECK(r.type == request_type::server_side_emit);
  CHECK(r.request_id == "id0005");
  CHECK(r.data.json == R"(["pong",2])");
  CHECK(*encode_server_side_emit_ack("id0005", r.data.json) == k_sse_ack_resp);
  CHECK(*encode_server_side_emit_ack("id0006", R"([ "pong" , 3 ])") == k_sse_with_ack_resp);
  // cb() with no argument: JSON.stringify leaves data out.
  CHECK(*encode_server_side_emit_ack("id0009", "") == R"({"type":6,"requestId":"id0009"})");
}

TEST_CASE("BROADCAST_CLIENT_COUNT is JSON and chatd's equals it") {
  auto r = resp(k_bcast_count_resp);
  CHECK(r.type == request_type::broadcast_client_count);
  CHECK(r.client_count == 1u);
  CHECK(*encode_broadcast_client_count("id0007", 1) == k_bcast_count_resp);
  CHECK(*encode_broadcast_client_count("id0008", 1) == k_bcast_bin_count_resp);
}

TEST_CASE("BROADCAST_ACK is msgpack with the client's Buffer, and chatd's equals it") {
  auto r = resp(k_bcast_ack_resp);
  CHECK(r.type == request_type::broadcast_ack);
  CHECK(r.request_id == "id0007");
  CHECK(r.packet.json == R"({"ok":true,"got":"string","bin":{"_placeholder":true,"num":0}})");
  CHECK(r.packet.attachments == strings{std::string("\x01\x02")});
  auto mine = encode_broadcast_ack("id0007", r.packet);
  REQUIRE(mine.has_value());
  CHECK_MESSAGE(*mine == k_bcast_ack_resp, to_hex(*mine));
  auto bin = resp(k_bcast_bin_ack_resp);
  CHECK(*encode_broadcast_ack("id0008", bin.packet) == k_bcast_bin_ack_resp);
}

TEST_CASE("a BROADCAST_ACK without an argument leaves packet out, as notepack does") {
  auto mine = encode_broadcast_ack("id0001", json_value{});
  REQUIRE(mine.has_value());
  CHECK(to_hex(*mine) == "82a47479706509a9726571756573744964a6696430303031");
  auto back = resp(*mine);
  CHECK(back.packet.json.empty());
}

// The answers tests/tools/capture_bus_requests.js (phase 2) feeds to a real Node adapter, which
// resolves allRooms(), fetchSockets(), serverSideEmitWithAck() and timeout().emitWithAck() with
// the expected values: these must stay equal to the script's CHATD table.
TEST_CASE("chatd-encoded answers checked against a real adapter stay as the script has them") {
  CHECK(*encode_all_rooms_response("RQ____", {"room1", "p1"}) ==
        R"({"requestId":"RQ____","rooms":["room1","p1"]})");
  remote_socket s;
  s.id = "p1";
  s.hs.headers_json = R"({"host":"x"})";
  s.hs.time = "Thu Jan 01 2026";
  s.hs.address = "127.0.0.1";
  s.hs.issued = 1767225600000;
  s.hs.url = "/socket.io/?EIO=4&transport=websocket";
  s.hs.query_json = R"({"channel":"room1"})";
  s.hs.auth_json = R"({"token":"t"})";
  s.rooms = {"p1", "room1"};
  s.data_json = R"({"userId":"u1"})";
  CHECK(*encode_fetch_response("RQ____", {s}) ==
        R"({"requestId":"RQ____","sockets":[{"id":"p1","handshake":{"headers":{"host":"x"},)"
        R"("time":"Thu Jan 01 2026","address":"127.0.0.1","xdomain":false,"secure":false,)"
        R"("issued":1767225600000,"url":"/socket.io/?EIO=4&transport=websocket",)"
        R"("query":{"channel":"room1"},"auth":{"token":"t"}},"rooms":["p1","room1"],)"
        R"("data":{"userId":"u1"}}]})");
  CHECK(*encode_server_side_emit_ack("RQ____", R"(["pong",2])") ==
        R"({"type":6,"requestId":"RQ____","data":["pong",2]})");
  CHECK(*encode_broadcast_client_count("RQ____", 1) ==
        R"({"type":8,"requestId":"RQ____","clientCount":1})");
  json_value ack{R"(["ok",{"_placeholder":true,"num":0}])", {std::string("\x01\x02")}};
  CHECK(to_hex(*encode_broadcast_ack("RQ____", ack)) ==
        "83a47479706509a9726571756573744964a652515f5f5f5fa67061636b657492a26f6bc4020102");
}

TEST_CASE("opaque JSON is re-printed as JSON.stringify(JSON.parse(text)) and checked") {
  remote_socket s;
  s.id = "a";
  s.hs.query_json = R"({ "b" : 1.0, "2": "x", "1": [ ] , "b": 2 })";
  s.data_json = "";  // undefined: left out
  auto out = encode_fetch_response("r", {s});
  REQUIRE(out.has_value());
  CHECK(out->find(R"("query":{"1":[],"2":"x","b":2})") != std::string::npos);
  CHECK(out->find("\"data\"") == std::string::npos);
  s.data_json = "{broken";
  auto bad = encode_fetch_response("r", {s});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().find("sockets[0].data") == 0);
}

TEST_CASE("channel names are the adapter's") {
  CHECK(request_channel("socket.io", "/") == "socket.io-request#/#");
  CHECK(response_channel("socket.io", "/") == "socket.io-response#/#");
  CHECK(specific_response_channel("socket.io", "/chat", "id0000") ==
        "socket.io-response#/chat#id0000#");
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

TEST_CASE("unknown and mistyped request types are refused") {
  CHECK(refusal(R"({"uid":"a","requestId":"b","type":8})") == "unknown request type 8");
  CHECK(refusal(R"({"uid":"a","requestId":"b","type":"1"})") == "type is not a request type");
  CHECK(refusal(R"({"uid":"a","requestId":"b","type":-1})") == "type is not a request type");
  CHECK(refusal(R"({"uid":"a","requestId":"b"})") == "type is not a request type");
  CHECK(response_refusal(R"({"requestId":"b","type":5})") == "type 5 is not a response type");
}

TEST_CASE("requests missing what the receiver needs are refused with the field") {
  CHECK(refusal(R"({"uid":"a","type":1})") == "requestId is missing");
  CHECK(refusal(R"({"uid":"a","requestId":"b","type":5})") == "opts is not an object");
  CHECK(refusal(R"({"uid":"a","type":2,"opts":{"rooms":"r"},"rooms":[]})") ==
        "opts.rooms is not an array");
  CHECK(refusal(R"({"uid":"a","type":2,"opts":{},"rooms":[{}]})") == "rooms holds a non-string");
  CHECK(refusal(R"({"uid":"a","type":4,"opts":{},"close":1})") == "close is not a boolean");
  CHECK(refusal(R"({"uid":"a","type":3})") == "sid is not a string");
  CHECK(refusal(R"({"uid":"a","type":6,"data":{}})") == "data is not an [event, ...args] array");
  CHECK(refusal(R"({"uid":"a","type":6,"data":[]})") == "data is not an [event, ...args] array");
  CHECK(refusal(R"({"uid":7,"type":1,"requestId":"b"})") == "uid is not a string");
  CHECK(response_refusal(R"({"type":8,"requestId":"b"})") == "clientCount is not a count");
  CHECK(response_refusal(R"({"rooms":[]})") == "requestId is not a string");
  CHECK(response_refusal(R"({"requestId":"b","sockets":["a",{}]})") ==
        "sockets holds a non-string");
  CHECK(response_refusal(R"({"requestId":"b","sockets":[{"id":"a","handshake":{"issued":"x"}}]})") ==
        "handshake.issued is not a time");
}

TEST_CASE("a BROADCAST request without packet or opts is refused") {
  // {uid:"a", requestId:"b", type:7}
  CHECK_FALSE(refusal(from_hex("83a3756964a161a9726571756573744964a162a47479706507")).empty());
  // ... with packet {type:2, data:["x"], nsp:"/"} but opts 1
  CHECK(refusal(from_hex("85a3756964a161a9726571756573744964a162a47479706507a67061636b657483a4747970"
                         "6502a46461746191a178a36e7370a12fa46f70747301")) == "opts is not a map");
}

TEST_CASE("truncated msgpack, trailing bytes and non-objects are refused") {
  std::string whole = k_bcast_bin_req;
  for (size_t n = 0; n < whole.size(); ++n) {
    CHECK_FALSE(refusal(whole.substr(0, n)).empty());
  }
  CHECK(refusal(whole + "\xc0") == "1 trailing bytes");
  CHECK(refusal("") == "empty message");
  CHECK(refusal(from_hex("93a161a162a163")) == "not an object");
  CHECK(refusal("[1,2]") == "4 trailing bytes");  // not '{': msgpack, where 0x5b is the int 91
}

TEST_CASE("malformed JSON is refused") {
  CHECK(refusal(R"({"uid":"a","type":1,)").rfind("JSON: ", 0) == 0);
  CHECK(refusal(R"({"uid":"a"} trailing)").rfind("JSON: ", 0) == 0);
  CHECK(refusal(R"({"type":1e400,"requestId":"b"})").rfind("JSON: ", 0) == 0);
}

TEST_CASE("huge msgpack lengths are refused without reserving them") {
  // A map32 header claiming 2^32-1 entries, and a str32 claiming 4 GiB, in a few bytes.
  CHECK_FALSE(refusal(from_hex("dfffffffff")).empty());
  CHECK_FALSE(refusal(from_hex("81a3756964dbffffffff61")).empty());
  CHECK_FALSE(refusal(from_hex("81a4646174") + from_hex("61ddffffffff")).empty());
}

TEST_CASE("deep nesting is refused in msgpack and in JSON") {
  // {type:6, data: [[[[...]]]]}
  std::string mp = from_hex("82a47479706506a464617461");
  mp += std::string(5000, '\x91');
  mp += '\xc0';
  CHECK_FALSE(refusal(mp).empty());
  std::string json = R"({"type":6,"data":["e",)" + std::string(5000, '[') + std::string(5000, ']') +
                     "]}";
  CHECK(refusal(json).rfind("JSON: ", 0) == 0);
}

TEST_CASE("ill-formed UTF-8 is refused in ids and rooms, repaired in opaque values") {
  CHECK(refusal("{\"uid\":\"a\\u0000\xff\",\"requestId\":\"b\",\"type\":1}").rfind("JSON", 0) == 0);
  // msgpack {uid:"\xff", requestId:"b", type:1}
  CHECK(refusal(from_hex("83a3756964a1ffa9726571756573744964a162a47479706501")) ==
        "uid is not valid UTF-8");
  // msgpack {type:2, opts:{rooms:["\xc3"]}, rooms:[]}
  CHECK(refusal(from_hex("83a47479706502a46f70747381a5726f6f6d7391a1c3a5726f6f6d7390")) ==
        "opts.rooms holds ill-formed UTF-8");
  // msgpack {uid:"a", type:6, data:["e","\xff"]}: the argument becomes U+FFFD, as Node reads it
  auto r = req(from_hex("83a3756964a161a47479706506a46461746192a165a1ff"));
  CHECK(r.data.json == "[\"e\",\"\xef\xbf\xbd\"]");
}

TEST_CASE("extension types in event arguments are refused") {
  // {uid:"a", type:6, data:["e", <timestamp ext -1>]}
  CHECK(refusal(from_hex("83a3756964a161a47479706506a46461746192a165d6ff00000000"))
            .find("extension") != std::string::npos);
}
