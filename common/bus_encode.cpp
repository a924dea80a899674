// The Redis bus encoder: a broadcast (packet.data as JSON text) to msgpack byte for byte as
// notepack.io 3 writes JSON.parse(data_json) inside @socket.io/redis-adapter's message.
//
// It walks a simdjson DOM of packet.data: strings fixstr/str8/16/32 by UTF-8 length, integers in
// their smallest form, other numbers float64, objects with their keys in JavaScript's own-key
// order (array-index keys first, ascending; a repeated key keeps its first place and its last
// value). Placeholders of a BINARY_EVENT become msgpack bin (the adapter carries Buffers so).
//
// Deliberate differences from notepack, all at the edges of what JSON.parse can produce:
//   - integers beyond 2^53 are carried exactly (JavaScript would have rounded them first);
//   - integral values outside [-2^63, 2^64) are written as float64 (notepack wraps them);
//   - integers beyond 64 bits and lone surrogate escapes, which simdjson refuses, are repaired
//     first (see js_compatible_json); numbers beyond the double range (1e400) are an error.

#include "common/bus_wire.h"

#include "common/bus_msgpack.h"
#include "common/js_key_order.h"
#include "common/json_js_compat.h"
#include "common/json_unicode.h"
#include "common/msgpack_writer.h"
#include "common/placeholder.h"

#include <simdjson.h>

#include <string>
#include <vector>

namespace chatd::wire {

namespace {

// ---------------------------------------------------------------------------------------------
// Encoder: simdjson DOM -> msgpack.

using simdjson::dom::element;
using simdjson::dom::element_type;

bool encode_json(msgpack_writer& w, element e, std::string& err,
                 const std::vector<std::string>& attachments) {
  switch (e.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array a = e.get_array().value_unsafe();
      if (!w.array_header(a.size())) {
        err = "array too large";
        return false;
      }
      for (element item : a) {
        if (!encode_json(w, item, err, attachments)) {
          return false;
        }
      }
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object o = e.get_object().value_unsafe();
      if (!attachments.empty()) {
        const sio::placeholder_ref p = sio::read_placeholder(o, attachments.size());
        if (p.what == sio::placeholder_ref::kind::illegal) {
          err = "illegal attachment placeholder";
          return false;
        }
        if (p.what == sio::placeholder_ref::kind::valid) {
          // JavaScript would read `undefined` at a fractional index: nothing a bin can carry.
          if (p.num != static_cast<double>(static_cast<size_t>(p.num))) {
            err = "attachment placeholder num is not an integer";
            return false;
          }
          if (!w.bin(attachments[static_cast<size_t>(p.num)])) {
            err = "attachment too large";
            return false;
          }
          return true;
        }
      }
      std::vector<js_entry<element>> entries;
      entries.reserve(o.size());
      for (auto field : o) {
        entries.push_back({field.key, field.value});
      }
      js_object_order(entries);
      if (!w.map_header(entries.size())) {
        err = "object too large";
        return false;
      }
      for (auto& kv : entries) {
        if (!w.str(kv.key)) {
          err = "key too long";
          return false;
        }
        if (!encode_json(w, kv.value, err, attachments)) {
          return false;
        }
      }
      return true;
    }
    case element_type::INT64:
      w.sint(e.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      w.uint(e.get_uint64().value_unsafe());
      return true;
    case element_type::DOUBLE:
      w.number(e.get_double().value_unsafe());
      return true;
    case element_type::STRING:
      if (!w.str(e.get_string().value_unsafe())) {
        err = "string too long";
        return false;
      }
      return true;
    case element_type::BOOL:
      w.boolean(e.get_bool().value_unsafe());
      return true;
    case element_type::NULL_VALUE:
      w.nil();
      return true;
  }
  err = "unknown JSON value";
  return false;
}

// One parser per thread: it keeps its buffers between messages (a worker is single-threaded).
simdjson::dom::parser& json_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

bool write_string_array(msgpack_writer& w, const std::vector<std::string>& items) {
  if (!w.array_header(items.size())) {
    return false;
  }
  for (const auto& s : items) {
    if (!w.str(s)) {
      return false;
    }
  }
  return true;
}

}  // namespace

namespace detail {

expected<simdjson::dom::element> parse_js_json(std::string_view text) {
  simdjson::dom::element root;
  auto parse_error = json_parser().parse(text.data(), text.size()).get(root);
  if (parse_error == simdjson::NUMBER_ERROR || parse_error == simdjson::STRING_ERROR) {
    // The parser copies the text into its own padded buffer: `repaired` may go after parse().
    const std::string repaired = js_compatible_json(text);
    parse_error = json_parser().parse(repaired).get(root);
  }
  if (parse_error) {
    return unexpected(std::string(simdjson::error_message(parse_error)));
  }
  return root;
}

bool write_json_value(msgpack_writer& w, simdjson::dom::element e, std::string& err,
                      const std::vector<std::string>& attachments) {
  return encode_json(w, e, err, attachments);
}

expected<std::string> json_to_msgpack(std::string_view text) {
  auto root = parse_js_json(text);
  if (!root) {
    return unexpected(root.error());
  }
  std::string out;
  out.reserve(text.size() + 16);
  msgpack_writer w(out);
  std::string err;
  if (!encode_json(w, *root, err, {})) {
    return unexpected(err);
  }
  return out;
}

// packet: {type, data, nsp}, the order socket.io builds it in and the adapter completes it.
// An ack id is not written: a Node adapter publishes a BROADCAST request before socket.io-adapter
// gives the packet its id, and chatd never publishes ack-expecting plain broadcasts.
bool write_packet(msgpack_writer& w, const broadcast& b, std::string& err) {
  auto parsed = parse_js_json(b.data_json);
  if (!parsed) {
    err = "data_json: " + parsed.error();
    return false;
  }
  const simdjson::dom::element root = *parsed;
  if (root.type() != element_type::ARRAY) {
    err = "data_json: not a JSON array";
    return false;
  }
  w.map_header(3);
  w.str("type");
  w.sint(b.type);
  w.str("data");
  if (!encode_json(w, root, err, b.attachments)) {
    err = "data_json: " + err;
    return false;
  }
  w.str("nsp");
  w.str(b.nsp);
  return true;
}

// opts: {rooms, except, flags}, as RedisAdapter.broadcast and broadcastWithAck build rawOpts;
// flags as the BroadcastOperator sets them, .volatile before .timeout().
bool write_opts(msgpack_writer& w, const broadcast& b, std::optional<double> timeout_ms,
                std::string& err) {
  w.map_header(3);
  w.str("rooms");
  if (!write_string_array(w, b.rooms)) {
    err = "too many rooms";
    return false;
  }
  w.str("except");
  if (!write_string_array(w, b.except)) {
    err = "too many excepts";
    return false;
  }
  w.str("flags");
  w.map_header((b.volatile_flag ? 1 : 0) + (timeout_ms ? 1 : 0));
  if (b.volatile_flag) {
    w.str("volatile");
    w.boolean(true);
  }
  if (timeout_ms) {
    w.str("timeout");
    w.number(*timeout_ms);
  }
  return true;
}

}  // namespace detail

expected<std::string> encode_broadcast(const broadcast& b) {
  std::string out;
  out.reserve(b.data_json.size() + b.uid.size() + 64);
  msgpack_writer w(out);
  w.array_header(3);
  w.str(b.uid);
  std::string err;
  if (!detail::write_packet(w, b, err) || !detail::write_opts(w, b, std::nullopt, err)) {
    return unexpected(err);
  }
  return out;
}

}  // namespace chatd::wire
