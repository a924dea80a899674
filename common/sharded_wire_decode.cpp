// The sharded adapter's decoder: any node's {type, data, uid, nsp} message (JSON or notepack) to
// a sharded::message, and the channel names. Field rules follow what the receiving ClusterAdapter
// reads (onMessage, onResponse): what it would throw on or silently mis-read is an error here,
// with the field's name. JSON is turned into msgpack first and both are read from one msgpack
// object, with the field readers the classic request channel uses (bus_fields.h).

#include "common/sharded_wire.h"

#include "common/bus_fields.h"
#include "common/bus_msgpack.h"
#include "common/utf8.h"

#include <msgpack.hpp>

#include <string>
#include <vector>

namespace chatd::wire::sharded {

namespace {

using msgpack::object;
namespace mt = msgpack::type;
using detail::absent;
using detail::field;

// The deepest a carried value sits: message {data {sockets [ {data ...} ]}}.
constexpr size_t k_envelope_depth = 4;

bool read_type(const object* o, message_type& out, std::string& err) {
  if (o == nullptr || o->type != mt::POSITIVE_INTEGER) {
    err = "type is not a message type";
    return false;
  }
  if (o->via.u64 < 1 || o->via.u64 > 13) {
    err = "unknown message type " + std::to_string(o->via.u64);
    return false;
  }
  out = static_cast<message_type>(o->via.u64);
  return true;
}

bool read_request_id(const object& data, message& m, bool required, std::string& err) {
  if (!detail::read_optional_string(field(data, "requestId"), m.request_id, err, "data.requestId")) {
    return false;
  }
  if (required && !m.request_id) {
    err = "data.requestId is missing";
    return false;
  }
  return true;
}

// data.opts {rooms, except, flags}, which decodeOptions reads with `new Set(...)`. Of the flags
// only FETCH_SOCKETS' timeout means anything to a receiver (none waits on a join or a leave).
bool read_opts(const object& data, message& m, std::string& err) {
  const object* opts = field(data, "opts");
  if (!detail::read_selector(opts, m.opts, err)) {
    err = "data." + err;
    return false;
  }
  return m.type != message_type::fetch_sockets || detail::read_timeout(*opts, m.timeout_ms, err);
}

bool read_broadcast(const object& uid, const object& data, message& m, std::string& err) {
  static const object k_missing;  // nil: broadcast_of names the missing field
  const object* packet = field(data, "packet");
  const object* opts = field(data, "opts");
  auto b = detail::broadcast_of(uid, packet ? *packet : k_missing, opts ? *opts : k_missing);
  if (!b) {
    err = "data." + b.error();
    return false;
  }
  m.packet = std::move(*b);
  // A broadcast's rooms are matched like any other room name (the classic decoder leaves that
  // to its receiver).
  if (!detail::check_ids_utf8(m.packet.rooms, err, "data.opts.rooms") ||
      !detail::check_ids_utf8(m.packet.except, err, "data.opts.except")) {
    return false;
  }
  if (absent(field(*packet, "nsp"))) {
    m.packet.nsp = m.nsp;
  }
  return read_request_id(data, m, false, err) && detail::read_timeout(*opts, m.timeout_ms, err);
}

// SERVER_SIDE_EMIT: the argument list the receiver hands to its listeners, the event name first.
bool read_emit(const object& data, message& m, std::string& err) {
  return read_request_id(data, m, false, err) &&
         detail::read_event_args(field(data, "packet"), m.data, err, "data.packet");
}

bool read_fetch_response(const object& data, message& m, std::string& err) {
  const object* sockets = field(data, "sockets");
  if (sockets == nullptr || sockets->type != mt::ARRAY) {
    err = "data.sockets is not an array";  // onResponse calls data.sockets.forEach
    return false;
  }
  m.sockets.resize(sockets->via.array.size);
  for (uint32_t i = 0; i < sockets->via.array.size; ++i) {
    if (!detail::read_remote_socket(sockets->via.array.ptr[i], m.sockets[i], true, err)) {
      err = "data." + err;
      return false;
    }
  }
  return true;
}

bool read_data(const object& root, message& m, std::string& err) {
  if (m.type == message_type::initial_heartbeat || m.type == message_type::heartbeat ||
      m.type == message_type::adapter_close) {
    return true;  // {type, uid, nsp}: nothing else is read
  }
  const object* data = field(root, "data");
  if (data == nullptr || data->type != mt::MAP) {
    err = "data is not an object";
    return false;
  }
  switch (m.type) {
    case message_type::broadcast:
      return read_broadcast(*field(root, "uid"), *data, m, err);
    case message_type::sockets_join:
    case message_type::sockets_leave:
      return read_opts(*data, m, err) &&
             detail::read_id_list(field(*data, "rooms"), m.rooms, err, "data.rooms");
    case message_type::disconnect_sockets:
      return read_opts(*data, m, err) &&
             detail::read_bool(field(*data, "close"), m.close, err, "data.close");
    case message_type::fetch_sockets:
      return read_opts(*data, m, err) && read_request_id(*data, m, true, err);
    case message_type::fetch_sockets_response:
      return read_request_id(*data, m, true, err) && read_fetch_response(*data, m, err);
    case message_type::server_side_emit:
      return read_emit(*data, m, err);
    case message_type::server_side_emit_response:
    case message_type::broadcast_ack:
      return read_request_id(*data, m, true, err) &&
             detail::read_json(field(*data, "packet"), m.data.json, &m.data.attachments, err,
                               "data.packet");
    case message_type::broadcast_client_count: {
      const object* count = field(*data, "clientCount");
      if (count == nullptr || count->type != mt::POSITIVE_INTEGER) {
        err = "data.clientCount is not a count";
        return false;
      }
      m.client_count = count->via.u64;
      return read_request_id(*data, m, true, err);
    }
    default:
      return true;
  }
}

}  // namespace

// The classic adapter's broadcast channels have the same layout (bus_channels.cpp).
std::string namespace_channel(std::string_view prefix, std::string_view nsp) {
  return wire::broadcast_channel(prefix, nsp);
}

std::string room_channel(std::string_view prefix, std::string_view nsp, std::string_view room) {
  return wire::room_channel(prefix, nsp, room);
}

std::string response_channel(std::string_view prefix, std::string_view nsp, std::string_view uid) {
  return wire::room_channel(prefix, nsp, uid);
}

bool looks_like_socket_id(std::string_view room) {
  size_t units = 0;  // UTF-16 code units: one per scalar, two beyond the BMP (4-byte sequences)
  for (unsigned char c : room) {
    if ((c & 0xC0) != 0x80) {
      units += c >= 0xF0 ? 2 : 1;
    }
  }
  return units == 20;
}

std::string publish_channel(std::string_view prefix, const message& m) {
  const bool dynamic = m.type == message_type::broadcast && !m.request_id &&
                       m.packet.rooms.size() == 1 && !looks_like_socket_id(m.packet.rooms[0]);
  return dynamic ? room_channel(prefix, m.nsp, m.packet.rooms[0]) : namespace_channel(prefix, m.nsp);
}

expected<message> decode(std::string_view bytes) {
  std::string converted;
  auto handle = detail::unpack_message(bytes, converted, k_envelope_depth);
  if (!handle) {
    return unexpected(handle.error());
  }
  const object& root = handle->get();
  message m;
  std::string err;
  if (!read_type(field(root, "type"), m.type, err) ||
      !detail::read_string(field(root, "uid"), m.uid, err, "uid") ||
      !detail::read_string(field(root, "nsp"), m.nsp, err, "nsp")) {
    return unexpected(err);
  }
  if (!read_data(root, m, err)) {
    return unexpected(err);
  }
  return m;
}

}  // namespace chatd::wire::sharded
