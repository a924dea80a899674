// The request channel decoder: requests and responses of @socket.io/redis-adapter 8.x (and of
// socket.io-redis 6.x and the emitter) to bus_request / bus_response.
//
// JSON and msgpack take one path: a JSON message (first byte '{') is turned into the msgpack
// notepack would write for JSON.parse(text), then both are read from one msgpack object. So a
// field reads the same whichever way it came, JSON quirks (repeated keys: last value wins; 1.0
// is the integer 1) follow JSON.parse, and every bound of the msgpack reader (element counts by
// input size, nesting depth) holds for JSON too. Field rules follow what the receiving adapter
// needs (RedisAdapter.onrequest / onresponse): what it would throw on or silently mis-read is an
// error here, with the field's name.

#include "common/bus_request.h"

#include "common/bus_fields.h"
#include "common/bus_msgpack.h"
#include "common/utf8.h"

#include <msgpack.hpp>

#include <string>
#include <vector>

namespace chatd::wire {

namespace {

using msgpack::object;
namespace mt = msgpack::type;
using detail::absent;
using detail::field;
using detail::read_bool;
using detail::read_id_list;
using detail::read_json;
using detail::read_optional_string;
using detail::read_selector;
using detail::read_string;

// The adapter switches on `request.type ===` a RequestType: only integers match.
bool read_type(const object* o, uint64_t max, uint64_t& out, std::string& err) {
  if (o == nullptr || o->type != mt::POSITIVE_INTEGER) {
    err = "type is not a request type";
    return false;
  }
  if (o->via.u64 > max) {
    err = "unknown request type " + std::to_string(o->via.u64);
    return false;
  }
  out = o->via.u64;
  return true;
}

// REMOTE_JOIN / REMOTE_LEAVE / REMOTE_DISCONNECT: with opts (8.x, the emitter) a selection, else
// the 6.x single socket `sid` (and `room` to join or leave).
bool read_membership(const object& m, bus_request& r, std::string& err) {
  const object* opts = field(m, "opts");
  if (!absent(opts)) {
    r.opts.emplace();
    if (!read_selector(opts, *r.opts, err)) {
      return false;
    }
    if (r.type != request_type::remote_disconnect) {
      return read_id_list(field(m, "rooms"), r.rooms, err, "rooms");
    }
    return read_bool(field(m, "close"), r.close, err, "close");
  }
  if (!read_string(field(m, "sid"), r.sid, err, "sid")) {
    return false;
  }
  if (r.type != request_type::remote_disconnect) {
    return read_string(field(m, "room"), r.room, err, "room");
  }
  return read_bool(field(m, "close"), r.close, err, "close");
}

// SERVER_SIDE_EMIT: `data` is the argument list the receiver applies to its listeners, the
// event name first.
bool read_emit_data(const object& m, bus_request& r, std::string& err) {
  return detail::read_event_args(field(m, "data"), r.data, err, "data");
}

bool read_broadcast(const object& m, bus_request& r, std::string& err) {
  static const object k_missing;  // nil: broadcast_of names the missing field
  const object* uid = field(m, "uid");
  const object* packet = field(m, "packet");
  const object* opts = field(m, "opts");
  auto b = detail::broadcast_of(uid ? *uid : k_missing, packet ? *packet : k_missing,
                                opts ? *opts : k_missing);
  if (!b) {
    err = b.error();
    return false;
  }
  r.packet = std::move(*b);
  return detail::read_timeout(*opts, r.timeout_ms, err);
}

expected<bus_request> request_of(const object& m) {
  bus_request r;
  std::string err;
  uint64_t type = 0;
  if (!read_type(field(m, "type"), 7, type, err) ||
      !read_optional_string(field(m, "uid"), r.uid, err, "uid") ||
      !read_optional_string(field(m, "requestId"), r.request_id, err, "requestId")) {
    return unexpected(err);
  }
  r.type = static_cast<request_type>(type);
  // The types whose answer the requester counts: without a requestId nobody could match it.
  const bool needs_id = r.type == request_type::sockets || r.type == request_type::all_rooms ||
                        r.type == request_type::remote_fetch || r.type == request_type::broadcast;
  if (needs_id && !r.request_id) {
    return unexpected(std::string("requestId is missing"));
  }
  bool ok = true;
  switch (r.type) {
    case request_type::sockets:
      ok = read_id_list(field(m, "rooms"), r.rooms, err, "rooms");
      break;
    case request_type::all_rooms:
      break;
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect:
      ok = read_membership(m, r, err);
      break;
    case request_type::remote_fetch:
      r.opts.emplace();
      ok = read_selector(field(m, "opts"), *r.opts, err);
      break;
    case request_type::server_side_emit:
      ok = read_emit_data(m, r, err);
      break;
    case request_type::broadcast:
      ok = read_broadcast(m, r, err);
      break;
    default:
      return unexpected(std::string("unknown request type"));
  }
  if (!ok) {
    return unexpected(err);
  }
  return r;
}

// `sockets` answers SOCKETS (ids) or REMOTE_FETCH (objects); one answer never mixes them.
bool read_sockets(const object* o, bus_response& r, std::string& err) {
  if (absent(o)) {
    return true;
  }
  if (o->type != mt::ARRAY) {
    err = "sockets is not an array";
    return false;
  }
  const auto& a = o->via.array;
  if (a.size == 0 || a.ptr[0].type == mt::STR) {
    r.socket_ids.emplace();
    if (!read_id_list(o, *r.socket_ids, err, "sockets")) {
      return false;
    }
    if (a.size > 0) {
      return true;
    }
  }
  r.sockets.emplace();
  r.sockets->resize(a.size);
  for (uint32_t i = 0; i < a.size; ++i) {
    if (!detail::read_remote_socket(a.ptr[i], (*r.sockets)[i], false, err)) {
      return false;
    }
  }
  return true;
}

expected<bus_response> response_of(const object& m) {
  bus_response r;
  std::string err;
  if (!read_string(field(m, "requestId"), r.request_id, err, "requestId")) {
    return unexpected(err);
  }
  const object* type = field(m, "type");
  if (!absent(type)) {
    uint64_t t = 0;
    if (!read_type(type, 9, t, err)) {
      return unexpected(err);
    }
    if (t != 6 && t != 8 && t != 9) {
      return unexpected("type " + std::to_string(t) + " is not a response type");
    }
    r.type = static_cast<request_type>(t);
  }
  bool ok = true;
  if (r.type == request_type::broadcast_client_count) {
    const object* count = field(m, "clientCount");
    if (count == nullptr || count->type != mt::POSITIVE_INTEGER) {
      return unexpected(std::string("clientCount is not a count"));
    }
    r.client_count = count->via.u64;
  } else if (r.type == request_type::broadcast_ack) {
    ok = read_json(field(m, "packet"), r.packet.json, &r.packet.attachments, err, "packet");
  } else if (r.type == request_type::server_side_emit) {
    ok = read_json(field(m, "data"), r.data.json, &r.data.attachments, err, "data");
  } else {
    const object* rooms = field(m, "rooms");
    if (!absent(rooms)) {
      r.rooms.emplace();
      ok = read_id_list(rooms, *r.rooms, err, "rooms");
    }
    ok = ok && read_sockets(field(m, "sockets"), r, err);
  }
  if (!ok) {
    return unexpected(err);
  }
  return r;
}

// The message as one msgpack object (JSON converted first), handed to `of` while it lives.
template <class T, class Of>
expected<T> decode_message(std::string_view bytes, Of of) {
  std::string converted;
  auto handle = detail::unpack_message(bytes, converted, 2);
  if (!handle) {
    return unexpected(handle.error());
  }
  return of(handle->get());
}

}  // namespace

expected<bus_request> decode_request(std::string_view bytes) {
  return decode_message<bus_request>(bytes, request_of);
}

expected<bus_response> decode_response(std::string_view bytes) {
  return decode_message<bus_response>(bytes, response_of);
}

}  // namespace chatd::wire
