#pragma once
// The wire format of @socket.io/redis-adapter 8.x's SHARDED adapter (createShardedAdapter: Redis
// 7 SSUBSCRIBE/SPUBLISH, built on socket.io-adapter's ClusterAdapter), so chatd is a peer of Node
// servers using it. Sans-IO: bytes in, a message out, and back.
//
// Every message, request and response alike, is one object {type, data, uid, nsp} (the heartbeat
// types carry no data). It is JSON (JSON.stringify) unless the type is one Node checks for binary
// (BROADCAST, BROADCAST_ACK, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT,
// SERVER_SIDE_EMIT_RESPONSE) and its data holds a Buffer: then notepack.io msgpack, Buffers as
// bin. A receiver reads JSON when the first byte is '{', else msgpack. Carried values (event
// arguments, acks, handshakes, socket data) stay JSON text as JSON.stringify would print them;
// Buffers in them are socket.io-parser placeholders plus attachments, as in bus_wire.h.
//
// Channels (prefix is the adapter's channelPrefix, default "socket.io"): every node SSUBSCRIBEs
// "<prefix>#<nsp>#" and its own response channel "<prefix>#<nsp>#<uid>#"; in subscriptionMode
// "dynamic" (the default) also "<prefix>#<nsp>#<room>#" for each local room that is not a socket
// id. The message's type and nsp, not the channel, say what it is, except that whatever arrives
// on a node's own response channel is a response.

#include "common/bus_request.h"
#include "common/bus_wire.h"
#include "common/expected.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::wire::sharded {

// socket.io-adapter's MessageType.
enum class message_type : uint8_t {
  initial_heartbeat = 1,
  heartbeat = 2,
  broadcast = 3,
  sockets_join = 4,
  sockets_leave = 5,
  disconnect_sockets = 6,
  fetch_sockets = 7,
  fetch_sockets_response = 8,
  server_side_emit = 9,
  server_side_emit_response = 10,
  broadcast_client_count = 11,
  broadcast_ack = 12,
  adapter_close = 13,
};

// One message. Which fields mean something depends on `type`; the others keep their defaults.
struct message {
  std::string uid;                          // the sending node (Node: 16 hex digits)
  std::string nsp = "/";
  message_type type = message_type::broadcast;
  // data.requestId: BROADCAST with ack, FETCH_SOCKETS, SERVER_SIDE_EMIT with ack, every response.
  std::optional<std::string> request_id;
  // BROADCAST: data.packet {type, data} and data.opts {rooms, except, flags}. Node publishes the
  // packet before socket.io-adapter sets its nsp and id: packet.nsp is the message's nsp when the
  // packet has none, and is never written; packet.uid is unused.
  broadcast packet;
  // BROADCAST: opts.flags.timeout (a broadcast with ack); FETCH_SOCKETS: opts.flags.timeout too
  // (io.timeout(ms).fetchSockets()).
  std::optional<double> timeout_ms;
  // SOCKETS_JOIN/LEAVE, DISCONNECT_SOCKETS, FETCH_SOCKETS: data.opts {rooms, except}.
  room_selector opts;
  std::vector<std::string> rooms;           // SOCKETS_JOIN/LEAVE: data.rooms
  bool close = false;                       // DISCONNECT_SOCKETS: data.close
  // SERVER_SIDE_EMIT: data.packet, [event, ...args]; SERVER_SIDE_EMIT_RESPONSE and BROADCAST_ACK:
  // data.packet, the one ack argument ("" for undefined, which JSON.stringify leaves out).
  json_value data;
  std::vector<remote_socket> sockets;       // FETCH_SOCKETS_RESPONSE: data.sockets
  uint64_t client_count = 0;                // BROADCAST_CLIENT_COUNT: data.clientCount
};

// "<prefix>#<nsp>#": every node's; requests and broadcasts to all or to several rooms.
std::string namespace_channel(std::string_view prefix, std::string_view nsp);
// "<prefix>#<nsp>#<room>#": a single-room broadcast, subscribed by nodes that have the room.
std::string room_channel(std::string_view prefix, std::string_view nsp, std::string_view room);
// "<prefix>#<nsp>#<uid>#": the responses to node `uid`'s requests.
std::string response_channel(std::string_view prefix, std::string_view nsp, std::string_view uid);

// The adapter's looksLikeASocketId: a room whose name is 20 UTF-16 code units long (a Socket.IO
// socket id). `room` is UTF-8; its length is counted as JavaScript's String.length would.
bool looks_like_socket_id(std::string_view room);

// Which channel a Node ShardedRedisAdapter in subscriptionMode "dynamic" publishes `m` on: the
// room channel for a BROADCAST without requestId to exactly one room that is not socket-id-shaped;
// else the namespace channel. (Responses go to response_channel of the requester instead.)
std::string publish_channel(std::string_view prefix, const message& m);

// Decodes any node's message or response. An unknown type, a field the receiving ClusterAdapter
// needs that is missing or mistyped, malformed JSON or msgpack, ill-formed UTF-8 in an id, a room
// or the nsp, or nesting deeper than the bus allows is an error with the reason; work is linear
// in the input size.
expected<message> decode(std::string_view bytes);

// The exact bytes a Node 8.3 sharded adapter publishes for the same message: JSON with the fields
// in the order Node builds the objects, or notepack msgpack when the type is one Node checks and
// binary is present (packet.attachments, data.attachments, sockets[].data_attachments). Carried
// JSON is checked and re-printed as JSON.stringify(JSON.parse(text)) would; an error names the
// field that is not valid JSON, or a request that needs a requestId and has none.
expected<std::string> encode(const message& m);

}  // namespace chatd::wire::sharded
