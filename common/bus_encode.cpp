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

expected<std::string> encode_broadcast(const broadcast& b) {
  simdjson::dom::element root;
  auto parse_error = json_parser().parse(b.data_json).get(root);
  std::string repaired;
  if (parse_error == simdjson::NUMBER_ERROR || parse_error == simdjson::STRING_ERROR) {
    repaired = js_compatible_json(b.data_json);
    parse_error = json_parser().parse(repaired).get(root);
  }
  if (parse_error) {
    return unexpected(std::string("data_json: ") + simdjson::error_message(parse_error));
  }
  if (root.type() != element_type::ARRAY) {
    return unexpected(std::string("data_json: not a JSON array"));
  }

  std::string out;
  out.reserve(b.data_json.size() + b.uid.size() + 64);
  msgpack_writer w(out);
  w.array_header(3);
  w.str(b.uid);

  // packet: {type, data, nsp}, the order socket.io builds it in and the adapter completes it.
  // An ack id is not written: chatd never publishes ack-expecting broadcasts.
  w.map_header(3);
  w.str("type");
  w.sint(b.type);
  w.str("data");
  std::string err;
  if (!encode_json(w, root, err, b.attachments)) {
    return unexpected("data_json: " + err);
  }
  w.str("nsp");
  w.str(b.nsp);

  // opts: {rooms, except, flags}, as RedisAdapter.broadcast builds rawOpts.
  w.map_header(3);
  w.str("rooms");
  if (!write_string_array(w, b.rooms)) {
    return unexpected(std::string("too many rooms"));
  }
  w.str("except");
  if (!write_string_array(w, b.except)) {
    return unexpected(std::string("too many excepts"));
  }
  w.str("flags");
  if (b.volatile_flag) {
    w.map_header(1);
    w.str("volatile");
    w.boolean(true);
  } else {
    w.map_header(0);
  }
  return out;
}

}  // namespace chatd::wire
