#pragma once
// The Redis bus wire format: @socket.io/redis-adapter's classic broadcast message,
// msgpack [uid, packet, opts], so chatd and Node servers with that adapter share rooms.
// Sans-IO: JSON text <-> msgpack bytes.

#include "common/expected.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::wire {

// Channel names. prefix is the adapter `key` (default "socket.io"), nsp "/" for chat.
//   broadcast to all / several rooms: "<prefix>#<nsp>#"
//   broadcast to one room:            "<prefix>#<nsp>#<room>#"
std::string broadcast_channel(std::string_view prefix, std::string_view nsp);
std::string room_channel(std::string_view prefix, std::string_view nsp, std::string_view room);
// The room named by a channel of ours, "" for the base channel, nullopt if not ours.
std::optional<std::string> room_of_channel(std::string_view channel, std::string_view prefix,
                                           std::string_view nsp);

struct broadcast {
  std::string uid;                  // publishing node; receivers drop their own
  int type = 2;                     // Socket.IO packet type (2 EVENT, 5 BINARY_EVENT)
  std::string nsp = "/";
  std::string data_json;            // packet.data as JSON text: ["chat",{...}]
  // Binary parts of packet.data. data_json holds {"_placeholder":true,"num":i} where attachment
  // i goes, as socket.io-parser writes a BINARY_EVENT; on the wire each is a msgpack bin, as
  // notepack writes a Buffer.
  std::vector<std::string> attachments;
  std::vector<std::string> rooms;   // opts.rooms
  std::vector<std::string> except;  // opts.except (socket ids or rooms)
  bool volatile_flag = false;       // opts.flags.volatile
  bool has_ack_id = false;          // packet.id present (an ack-expecting broadcast)
};

// msgpack [uid, {type, data, nsp}, {rooms, except, flags}] as notepack.io writes it (maps with
// string keys, integers in the smallest form, non-integers as float64). `b.data_json` must be a
// valid JSON array; the error says where it is not.
expected<std::string> encode_broadcast(const broadcast& b);

// Decodes a message published by any adapter node (chatd, Node, the emitter). packet.data is
// rendered back to JSON the way JSON.stringify would; each msgpack bin (a Buffer) becomes a
// placeholder and an attachment, in the order socket.io-parser would number them. Extension
// types (Date, ArrayBuffer, notepack 2's undefined outside arrays and maps) are refused.
expected<broadcast> decode_broadcast(std::string_view msgpack_bytes);

}  // namespace chatd::wire
