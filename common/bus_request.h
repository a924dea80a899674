#pragma once
// The request/response channel of @socket.io/redis-adapter 8.x (classic pub/sub mode), so chatd
// is a full peer of Node servers: it answers their fetchSockets(), allRooms(), socketsJoin(),
// socketsLeave(), disconnectSockets(), serverSideEmit() and broadcasts with acks, and asks them
// the same. Sans-IO: bytes in, values out, and back.
//
// Channels: requests on "<prefix>-request#<nsp>#"; responses on "<prefix>-response#<nsp>#", or
// "<prefix>-response#<nsp>#<requester uid>#" when a node has publishOnSpecificResponseChannel.
// A message is JSON if its first byte is '{', else msgpack (notepack.io), for requests and
// responses alike. Values the adapter only carries (handshake headers, query and auth, socket
// data, event arguments, ack arguments) stay JSON text as JSON.stringify would print them; in
// msgpack they may hold Buffers, which become socket.io-parser placeholders plus attachments as
// for broadcasts (bus_wire.h).

#include "common/bus_wire.h"
#include "common/expected.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::wire {

// "<prefix>-request#<nsp>#", "<prefix>-response#<nsp>#" and "<prefix>-response#<nsp>#<uid>#".
std::string request_channel(std::string_view prefix, std::string_view nsp);
std::string response_channel(std::string_view prefix, std::string_view nsp);
std::string specific_response_channel(std::string_view prefix, std::string_view nsp,
                                      std::string_view uid);

// The adapter's RequestType; 8 and 9 only ever appear in responses.
enum class request_type : uint8_t {
  sockets = 0,            // socket.io-redis 6.x allSockets(); 8.x still answers it
  all_rooms = 1,
  remote_join = 2,
  remote_leave = 3,
  remote_disconnect = 4,
  remote_fetch = 5,
  server_side_emit = 6,
  broadcast = 7,          // a broadcast with acks (msgpack)
  broadcast_client_count = 8,
  broadcast_ack = 9,
};

// A JSON value the adapter only carries. `json` is "" for `undefined` (the field was absent).
struct json_value {
  std::string json;
  std::vector<std::string> attachments;  // Buffers, where {"_placeholder":true,"num":i} stands
};

// A BroadcastOptions selection as it travels: opts.rooms and opts.except.
struct room_selector {
  std::vector<std::string> rooms;   // empty: every socket of the namespace
  std::vector<std::string> except;  // rooms (socket ids too) left out
};

struct bus_request {
  request_type type = request_type::all_rooms;
  std::optional<std::string> uid;         // the sender; absent from the emitter's join/leave/disconnect
  std::optional<std::string> request_id;  // set when the sender waits for answers
  // REMOTE_JOIN/LEAVE/DISCONNECT, REMOTE_FETCH: which sockets. Absent for the 6.x single-socket
  // forms of JOIN/LEAVE/DISCONNECT, which name `sid` instead (and answer {requestId}).
  std::optional<room_selector> opts;
  std::vector<std::string> rooms;  // SOCKETS: rooms to list; REMOTE_JOIN/LEAVE: rooms to join/leave
  std::string sid;                 // 6.x single-socket forms
  std::string room;                // 6.x single-socket JOIN/LEAVE
  bool close = false;              // REMOTE_DISCONNECT: also close the underlying connection
  json_value data;                 // SERVER_SIDE_EMIT: [event, ...args], a JSON array
  broadcast packet;                // BROADCAST: packet and opts (uid is the request's uid)
  std::optional<double> timeout_ms;  // BROADCAST: opts.flags.timeout
};

// What a Node server's handshake looks like once JSON.stringify'd (socket.io buildHandshake).
struct handshake {
  std::string headers_json = "{}";  // a JSON object
  std::string time;                 // `new Date() + ""`
  std::string address;
  bool xdomain = false;
  bool secure = false;
  uint64_t issued = 0;              // ms since the epoch
  std::optional<std::string> url;   // absent when the request had none
  std::string query_json = "{}";    // a JSON object
  std::string auth_json = "{}";     // a JSON value ("" for undefined)
};

// One socket of a REMOTE_FETCH answer (a RemoteSocket on the requester).
struct remote_socket {
  std::string id;
  handshake hs;
  std::vector<std::string> rooms;  // the socket's own room (its id) included
  std::string data_json = "{}";    // socket.data as JSON ("" for undefined)
  // Buffers in socket.data, where placeholders stand in data_json. Only the sharded adapter
  // carries them (as msgpack); the classic one JSON.stringifies its answers, so none arrive.
  std::vector<std::string> data_attachments;
};

// An answer on the response channel. Which fields are set depends on what was asked:
//   ALL_ROOMS {requestId, rooms}; SOCKETS {requestId, sockets:[ids]}; REMOTE_FETCH {requestId,
//   sockets:[{id, handshake, rooms, data}]}; the 6.x single-socket forms {requestId};
//   SERVER_SIDE_EMIT ack {type:6, requestId, data}; {type:8, requestId, clientCount};
//   {type:9, requestId, packet}.
// An empty `sockets` array sets both socket_ids and sockets (the requester knows which it asked).
struct bus_response {
  std::string request_id;
  std::optional<request_type> type;  // 6, 8 or 9 when present
  std::optional<std::vector<std::string>> rooms;
  std::optional<std::vector<std::string>> socket_ids;
  std::optional<std::vector<remote_socket>> sockets;
  json_value data;                     // type 6: the ack's argument
  std::optional<uint64_t> client_count;  // type 8
  json_value packet;                   // type 9: the client's ack argument
};

// --- decoding (bus_request_decode.cpp) --------------------------------------------------------

// Decodes one message of the request channel, from any node (Node adapter 8.x, socket.io-redis
// 6.x, the emitter, chatd). An unknown type, a missing or mistyped field the receiving adapter
// would need, malformed JSON or msgpack, ill-formed UTF-8 in an id or a room, or nesting deeper
// than the bus allows is an error with the reason; work is linear in the input size.
expected<bus_request> decode_request(std::string_view bytes);

// Decodes one message of a response channel, under the same rules.
expected<bus_response> decode_response(std::string_view bytes);

// --- encoding (bus_request_encode.cpp) --------------------------------------------------------
// Each produces the bytes a Node 8.x adapter publishes for the same answer or request, field for
// field and in its order: JSON (JSON.stringify) for everything but BROADCAST and BROADCAST_ACK,
// which go through the parser (notepack). JSON text inputs are checked and re-printed as
// JSON.stringify(JSON.parse(text)) would; an error names the field that is not valid JSON.

expected<std::string> encode_sockets_response(std::string_view request_id,
                                              const std::vector<std::string>& socket_ids);
expected<std::string> encode_all_rooms_response(std::string_view request_id,
                                                const std::vector<std::string>& rooms);
expected<std::string> encode_fetch_response(std::string_view request_id,
                                            const std::vector<remote_socket>& sockets);
// The answer to a 6.x single-socket JOIN/LEAVE/DISCONNECT: {requestId}.
expected<std::string> encode_done_response(std::string_view request_id);
// {type:6, requestId, data}: `ack_json` is the one argument the handler's callback got ("" for
// undefined, which JSON.stringify leaves out).
expected<std::string> encode_server_side_emit_ack(std::string_view request_id,
                                                  std::string_view ack_json);
expected<std::string> encode_broadcast_client_count(std::string_view request_id,
                                                    uint64_t client_count);
// msgpack {type:9, requestId, packet}: the client's first ack argument, Buffers as attachments.
expected<std::string> encode_broadcast_ack(std::string_view request_id, const json_value& packet);

// chatd's own requests, as a Node server sends them: ALL_ROOMS {uid, requestId, type};
// REMOTE_FETCH {uid, requestId, type, opts}; SOCKETS (6.x form) {uid, requestId, type, rooms};
// REMOTE_JOIN/LEAVE {uid, type, opts, rooms}; REMOTE_DISCONNECT {uid, type, opts, close};
// SERVER_SIDE_EMIT {uid, requestId?, type, data}; BROADCAST (msgpack) {uid, requestId, type,
// packet:{type, data, nsp}, opts:{rooms, except, flags}}. The 6.x single-socket forms and
// requests without a uid (the emitter's) are decoded but not encoded: chatd never sends them.
expected<std::string> encode_request(const bus_request& r);

}  // namespace chatd::wire
