#pragma once
// The sharded adapter's requests and responses (common/sharded_wire.h) seen as the classic
// adapter's (common/bus_request.h), so one adapter_node answers both dialects. Sans-IO.
//   BROADCAST with requestId  <-> BROADCAST (7)          FETCH_SOCKETS      <-> REMOTE_FETCH (5)
//   SOCKETS_JOIN / _LEAVE     <-> REMOTE_JOIN / _LEAVE   DISCONNECT_SOCKETS <-> REMOTE_DISCONNECT
//   SERVER_SIDE_EMIT          <-> SERVER_SIDE_EMIT (6)
//   FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE, BROADCAST_CLIENT_COUNT, BROADCAST_ACK
//                             <-> the classic answers to 5, 6 and 7.
// The classic-only requests (SOCKETS, ALL_ROOMS, the 6.x single-socket forms) have no sharded
// form: the sharded adapter has no allRooms().

#include "common/bus_request.h"
#include "common/sharded_wire.h"

#include <optional>
#include <string_view>

namespace chatd::wire::sharded {

// m as a request; nullopt when it is not one (a plain broadcast, a response, a heartbeat).
std::optional<bus_request> to_request(const message& m);
// m as a response; nullopt when it is not one.
std::optional<bus_response> to_response(const message& m);
// The answer `uid` sends to a request of type `asked`; nullopt when the sharded adapter has
// none (SOCKETS, ALL_ROOMS, the single-socket forms).
std::optional<message> answer_message(std::string_view uid, request_type asked,
                                      const bus_response& answer);
// One of chatd's requests as the sharded adapter sends it; nullopt for the classic-only types.
std::optional<message> request_message(const bus_request& r);

}  // namespace chatd::wire::sharded
