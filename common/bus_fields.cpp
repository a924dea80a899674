// The field readers the bus's JSON-or-msgpack message decoders share (bus_fields.h): the
// classic request channel (bus_request_decode.cpp) and the sharded adapter's messages
// (sharded_wire_decode.cpp) read ids, room lists, selectors, handshakes and opaque values the same
// way, with the same reasons when a field is wrong.

#include "common/bus_fields.h"

#include "common/utf8.h"

#include <msgpack.hpp>

#include <string>
#include <vector>

namespace chatd::wire::detail {

namespace mt = msgpack::type;
using msgpack::object;

// Ids and room names are matched byte for byte against chatd's own: ill-formed UTF-8 (which Node
// would have turned into U+FFFD, so the name would never match) is refused, not repaired.
bool read_string(const object* o, std::string& out, std::string& err, std::string_view what) {
  if (o == nullptr || o->type != mt::STR) {
    err = std::string(what) + " is not a string";
    return false;
  }
  out.assign(o->via.str.ptr, o->via.str.size);
  if (!valid_utf8(out)) {
    err = std::string(what) + " is not valid UTF-8";
    return false;
  }
  return true;
}

bool read_optional_string(const object* o, std::optional<std::string>& out, std::string& err,
                          std::string_view what) {
  if (absent(o)) {
    out.reset();
    return true;
  }
  out.emplace();
  return read_string(o, *out, err, what);
}

bool check_ids_utf8(const std::vector<std::string>& ids, std::string& err, std::string_view what) {
  for (const auto& s : ids) {
    if (!valid_utf8(s)) {
      err = std::string(what) + " holds ill-formed UTF-8";
      return false;
    }
  }
  return true;
}

bool read_id_list(const object* o, std::vector<std::string>& out, std::string& err,
                  std::string_view what) {
  return detail::read_room_list(o, out, err, what) && check_ids_utf8(out, err, what);
}

// An opaque value as JSON text; absent is "" (undefined). Buffers are kept only where the
// caller has somewhere to put them (`attachments`), else they are an error.
bool read_json(const object* o, std::string& out, std::vector<std::string>* attachments,
               std::string& err, std::string_view what) {
  out.clear();
  if (o == nullptr || (absent(o) && o->type != mt::NIL)) {
    return true;  // undefined; null is a value and renders as "null"
  }
  std::vector<std::string> bins;
  if (!detail::render_value_json(out, *o, err, bins)) {
    err = std::string(what) + ": " + err;
    return false;
  }
  if (attachments != nullptr) {
    *attachments = std::move(bins);
  } else if (!bins.empty()) {
    err = std::string(what) + " holds binary data";
    return false;
  }
  return true;
}

bool read_event_args(const object* o, json_value& out, std::string& err, std::string_view what) {
  if (o == nullptr || o->type != mt::ARRAY || o->via.array.size == 0 ||
      o->via.array.ptr[0].type != mt::STR) {
    err = std::string(what) + " is not an [event, ...args] array";
    return false;
  }
  return read_json(o, out.json, &out.attachments, err, what);
}

bool read_selector(const object* o, room_selector& out, std::string& err) {
  if (o == nullptr || o->type != mt::MAP) {
    err = "opts is not an object";
    return false;
  }
  return read_id_list(field(*o, "rooms"), out.rooms, err, "opts.rooms") &&
         read_id_list(field(*o, "except"), out.except, err, "opts.except");
}

bool read_bool(const object* o, bool& out, std::string& err, std::string_view what) {
  if (absent(o)) {
    out = false;
    return true;
  }
  if (o->type != mt::BOOLEAN) {
    err = std::string(what) + " is not a boolean";
    return false;
  }
  out = o->via.boolean;
  return true;
}

bool read_number(const object* o, double& out) {
  switch (o->type) {
    case mt::POSITIVE_INTEGER: out = static_cast<double>(o->via.u64); return true;
    case mt::NEGATIVE_INTEGER: out = static_cast<double>(o->via.i64); return true;
    case mt::FLOAT32:
    case mt::FLOAT64: out = o->via.f64; return true;
    default: return false;
  }
}

bool read_handshake(const object* o, handshake& h, std::string& err) {
  if (o == nullptr || o->type != mt::MAP) {
    err = "handshake is not an object";
    return false;
  }
  const object* issued = field(*o, "issued");
  double ms = 0;
  if (!absent(issued) && (!read_number(issued, ms) || !(ms >= 0 && ms < 1.8e19))) {
    err = "handshake.issued is not a time";
    return false;
  }
  h.issued = static_cast<uint64_t>(ms);
  h.time.clear();
  h.address.clear();
  std::optional<std::string> time, address;
  if (!read_json(field(*o, "headers"), h.headers_json, nullptr, err, "handshake.headers") ||
      !read_optional_string(field(*o, "time"), time, err, "handshake.time") ||
      !read_optional_string(field(*o, "address"), address, err, "handshake.address") ||
      !read_bool(field(*o, "xdomain"), h.xdomain, err, "handshake.xdomain") ||
      !read_bool(field(*o, "secure"), h.secure, err, "handshake.secure") ||
      !read_optional_string(field(*o, "url"), h.url, err, "handshake.url") ||
      !read_json(field(*o, "query"), h.query_json, nullptr, err, "handshake.query") ||
      !read_json(field(*o, "auth"), h.auth_json, nullptr, err, "handshake.auth")) {
    return false;
  }
  h.time = time.value_or("");
  h.address = address.value_or("");
  return true;
}

bool read_remote_socket(const object& o, remote_socket& s, bool binary_data, std::string& err) {
  if (o.type != mt::MAP) {
    err = "sockets holds a non-object";
    return false;
  }
  return read_string(field(o, "id"), s.id, err, "sockets[].id") &&
         read_handshake(field(o, "handshake"), s.hs, err) &&
         read_id_list(field(o, "rooms"), s.rooms, err, "sockets[].rooms") &&
         read_json(field(o, "data"), s.data_json, binary_data ? &s.data_attachments : nullptr, err,
                   "sockets[].data");
}

bool read_timeout(const object& opts, std::optional<double>& out, std::string& err) {
  out.reset();
  const object* flags = field(opts, "flags");
  if (absent(flags) || flags->type != mt::MAP) {
    return true;
  }
  const object* timeout = field(*flags, "timeout");
  double ms = 0;
  if (absent(timeout)) {
    return true;
  }
  if (!read_number(timeout, ms)) {
    err = "opts.flags.timeout is not a number";
    return false;
  }
  out = ms;
  return true;
}

expected<msgpack::object_handle> unpack_message(std::string_view bytes, std::string& converted,
                                                size_t envelope_depth) {
  std::string_view packed = bytes;
  if (!bytes.empty() && bytes.front() == '{') {
    auto m = json_to_msgpack(bytes);
    if (!m) {
      return unexpected("JSON: " + m.error());
    }
    converted = std::move(*m);
    packed = converted;
  }
  auto handle = unpack_bounded(packed, envelope_depth);
  if (!handle) {
    return unexpected(handle.error());
  }
  if (handle->get().type != mt::MAP) {
    return unexpected(std::string("not an object"));
  }
  return handle;
}

bool append_canonical_json(std::string& out, std::string_view text, std::string& err,
                           std::string_view what) {
  auto packed = json_to_msgpack(text);
  if (!packed) {
    err = std::string(what) + ": " + packed.error();
    return false;
  }
  auto handle = unpack_bounded(*packed);
  std::vector<std::string> no_attachments;
  if (!handle || !render_value_json(out, handle->get(), err, no_attachments)) {
    err = std::string(what) + ": " + (handle ? err : handle.error());
    return false;
  }
  return true;
}


}  // namespace chatd::wire::detail
