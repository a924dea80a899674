// The Redis bus decoder: a message published by any adapter node (chatd, Node, the emitter) from
// msgpack (msgpack-cxx) back to a broadcast, packet.data rendered as the JSON text
// JSON.stringify(notepack.decode(bytes)[1].data) would print; each msgpack bin (a Buffer)
// becomes a socket.io-parser placeholder plus an attachment. msgpack-cxx throws on malformed
// input: the exceptions are caught here and returned as errors, never crossing the loop.

#include "common/bus_wire.h"

#include "common/bus_msgpack.h"
#include "common/js_key_order.h"
#include "common/json_text.h"
#include "common/placeholder.h"
#include "common/utf8.h"

#include <msgpack.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

namespace chatd::wire {

namespace {

// ---------------------------------------------------------------------------------------------
// Decoder: msgpack-cxx object -> JSON text as JSON.stringify would print notepack's result.

using msgpack::object;
namespace mt = msgpack::type;

// The deepest packet.data chatd reads from a client (simdjson's DEFAULT_MAX_DEPTH: 1024 values
// on a path from the root) is also the deepest it takes from the bus, so whatever it relays it can read
// back and re-encode. A Buffer counts as a level: it renders as a placeholder object.
constexpr size_t k_max_json_depth = 1024;

// notepack 2.x (socket.io-redis 6.x) wrote `undefined` as fixext type 0 with one byte.
bool is_undefined(const object& o) {
  return o.type == mt::EXT && o.via.ext.size == 1 && o.via.ext.type() == 0;
}

// Number::toString for a finite double: shortest round-trip digits laid out by ECMA-262's rules
// (plain up to 21 integer digits, "0.000001" down to 1e-6, exponent form otherwise).
void append_js_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON.stringify(NaN), JSON.stringify(Infinity)
    return;
  }
  if (d == 0) {
    out += '0';  // also -0
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "-1.2345e+21"
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') {
      digits += c;
    }
  }
  int exp10 = 0;
  std::string_view exp_text = sci.substr(epos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') {
    exp_text.remove_prefix(1);
  }
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += (n - 1 >= 0) ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

void append_u(std::string& out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_i(std::string& out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// A map key as the JavaScript property name notepack's `value[key] = ...` would create.
bool key_text(const object& k, std::string& out, std::string& err) {
  out.clear();
  switch (k.type) {
    case mt::STR:
      out = utf8_repaired(std::string_view(k.via.str.ptr, k.via.str.size));
      return true;
    case mt::POSITIVE_INTEGER:
      append_u(out, k.via.u64);
      return true;
    case mt::NEGATIVE_INTEGER:
      append_i(out, k.via.i64);
      return true;
    case mt::FLOAT32:
    case mt::FLOAT64:
      if (std::isnan(k.via.f64)) {
        out = "NaN";
      } else if (std::isinf(k.via.f64)) {
        out = k.via.f64 > 0 ? "Infinity" : "-Infinity";
      } else {
        append_js_number(out, k.via.f64);
      }
      return true;
    case mt::BOOLEAN:
      out = k.via.boolean ? "true" : "false";
      return true;
    case mt::NIL:
      out = "null";
      return true;
    default:
      err = "unsupported map key type";
      return false;
  }
}

bool render_json(std::string& out, const object& o, size_t depth, std::string& err,
                 std::vector<std::string>& attachments);

bool render_map(std::string& out, const object& o, size_t depth, std::string& err,
                std::vector<std::string>& attachments) {
  std::vector<std::string> names(o.via.map.size);
  std::vector<js_entry<const object*>> entries;
  entries.reserve(o.via.map.size);
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    if (!key_text(o.via.map.ptr[i].key, names[i], err)) {
      return false;
    }
    entries.push_back({names[i], &o.via.map.ptr[i].val});
  }
  js_object_order(entries);
  out += '{';
  bool first = true;
  for (auto& kv : entries) {
    // `undefined` members vanish in JSON.stringify; assigning "__proto__" sets the prototype
    // (or is ignored) and never makes an own property.
    if (is_undefined(*kv.value) || kv.key == "__proto__") {
      continue;
    }
    if (!first) {
      out += ',';
    }
    first = false;
    append_json_string(out, kv.key);
    out += ':';
    if (!render_json(out, *kv.value, depth + 1, err, attachments)) {
      return false;
    }
  }
  out += '}';
  return true;
}

bool render_json(std::string& out, const object& o, size_t depth, std::string& err,
                 std::vector<std::string>& attachments) {
  // simdjson counts every value on the path, the innermost scalar too: `depth` containers
  // enclose o, which is one level more (a Buffer two: an object holding scalars).
  const size_t levels = o.type == mt::BIN ? 2 : 1;
  if (depth + levels > k_max_json_depth) {
    err = "nested too deeply";
    return false;
  }
  switch (o.type) {
    case mt::NIL:
      out += "null";
      return true;
    case mt::BOOLEAN:
      out += o.via.boolean ? "true" : "false";
      return true;
    case mt::POSITIVE_INTEGER:
      append_u(out, o.via.u64);
      return true;
    case mt::NEGATIVE_INTEGER:
      append_i(out, o.via.i64);
      return true;
    case mt::FLOAT32:
    case mt::FLOAT64:
      append_js_number(out, o.via.f64);
      return true;
    case mt::STR:
      append_json_string(out, std::string_view(o.via.str.ptr, o.via.str.size));
      return true;
    case mt::ARRAY:
      out += '[';
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        if (i > 0) {
          out += ',';
        }
        const object& item = o.via.array.ptr[i];
        if (is_undefined(item)) {
          out += "null";  // JSON.stringify([undefined]) is "[null]"
        } else if (!render_json(out, item, depth + 1, err, attachments)) {
          return false;
        }
      }
      out += ']';
      return true;
    case mt::MAP:
      return render_map(out, o, depth, err, attachments);
    case mt::BIN:
      // A Buffer: socket.io-parser's deconstructPacket numbers them in this same walk order.
      out += R"({"_placeholder":true,"num":)";
      append_u(out, attachments.size());
      out += '}';
      attachments.emplace_back(o.via.bin.ptr, o.via.bin.size);
      return true;
    case mt::EXT:
      if (is_undefined(o)) {
        err = "undefined outside an array or map";
      } else {
        err = "msgpack extension types (dates, array buffers) are not relayed over the bus";
      }
      return false;
  }
  err = "unknown msgpack type";
  return false;
}

bool ref_everything(mt::object_type, std::size_t, void*) { return true; }

}  // namespace

namespace detail {

bool render_value_json(std::string& out, const object& o, std::string& err,
                       std::vector<std::string>& attachments) {
  return render_json(out, o, 0, err, attachments);
}

void append_decimal(std::string& out, uint64_t v) { append_u(out, v); }

void append_js_number(std::string& out, double d) { chatd::wire::append_js_number(out, d); }

const object* field(const object& map, std::string_view name) {
  const object* found = nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const object& k = map.via.map.ptr[i].key;
    if (k.type == mt::STR && std::string_view(k.via.str.ptr, k.via.str.size) == name) {
      found = &map.via.map.ptr[i].val;
    }
  }
  return found;
}

bool absent(const object* o) { return o == nullptr || o->type == mt::NIL || is_undefined(*o); }

// opts.rooms / opts.except: strings (numbers too: Socket.IO rooms may be numeric).
bool read_room_list(const object* o, std::vector<std::string>& out, std::string& err,
                    std::string_view what) {
  out.clear();
  if (absent(o)) {
    return true;  // new Set(undefined) is empty
  }
  if (o->type != mt::ARRAY) {
    err = std::string(what) + " is not an array";
    return false;
  }
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const object& item = o->via.array.ptr[i];
    std::string name;
    if (item.type == mt::STR) {
      name.assign(item.via.str.ptr, item.via.str.size);
    } else if (item.type == mt::POSITIVE_INTEGER || item.type == mt::NEGATIVE_INTEGER ||
               item.type == mt::FLOAT32 || item.type == mt::FLOAT64) {
      std::string ignored;
      key_text(item, name, ignored);
    } else {
      err = std::string(what) + " holds a non-string";
      return false;
    }
    out.push_back(std::move(name));
  }
  return true;
}

expected<broadcast> broadcast_of(const object& uid, const object& packet, const object& opts) {
  broadcast b;
  if (uid.type != mt::STR) {
    return unexpected(std::string("uid is not a string"));
  }
  b.uid.assign(uid.via.str.ptr, uid.via.str.size);

  if (packet.type != mt::MAP) {
    return unexpected(std::string("packet is not a map"));
  }
  const object* type = field(packet, "type");
  if (type == nullptr || type->type != mt::POSITIVE_INTEGER || type->via.u64 > 6) {
    return unexpected(std::string("packet.type is not a Socket.IO packet type"));
  }
  b.type = static_cast<int>(type->via.u64);
  const object* nsp = field(packet, "nsp");
  if (absent(nsp)) {
    b.nsp.assign(1, '/');  // the emitter and old adapters leave it out (assign: GCC 12 -Wrestrict false positive on = "/")
  } else if (nsp->type == mt::STR) {
    b.nsp.assign(nsp->via.str.ptr, nsp->via.str.size);
  } else {
    return unexpected(std::string("packet.nsp is not a string"));
  }
  b.has_ack_id = !absent(field(packet, "id"));
  const object* data = field(packet, "data");
  if (data == nullptr || data->type != mt::ARRAY) {
    return unexpected(std::string("packet.data is not an array"));
  }
  std::string err;
  if (!render_json(b.data_json, *data, 0, err, b.attachments)) {
    return unexpected("packet.data: " + err);
  }

  if (opts.type != mt::MAP) {
    return unexpected(std::string("opts is not a map"));
  }
  if (!read_room_list(field(opts, "rooms"), b.rooms, err, "opts.rooms") ||
      !read_room_list(field(opts, "except"), b.except, err, "opts.except")) {
    return unexpected(err);
  }
  const object* flags = field(opts, "flags");
  if (!absent(flags) && flags->type == mt::MAP) {
    const object* vol = field(*flags, "volatile");
    b.volatile_flag = vol != nullptr && vol->type == mt::BOOLEAN && vol->via.boolean;
  }
  return b;
}

expected<msgpack::object_handle> unpack_bounded(std::string_view bytes, size_t envelope_depth) {
  if (bytes.empty()) {
    return unexpected(std::string("empty message"));
  }
  // Each array element or map entry takes at least one byte (two for a map entry): limiting the
  // counts by the input size stops a forged 5-byte header from reserving gigabytes.
  const size_t n = bytes.size();
  const msgpack::unpack_limit limit(n, n / 2 + 1, n, n, n, k_max_json_depth + envelope_depth);
  try {
    size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), n, offset, ref_everything, nullptr, limit);
    if (offset != n) {
      return unexpected(std::to_string(n - offset) + " trailing bytes");
    }
    return handle;
  } catch (const msgpack::insufficient_bytes&) {
    return unexpected(std::string("truncated msgpack"));
  } catch (const std::bad_alloc&) {
    return unexpected(std::string("msgpack: out of memory"));
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed msgpack: ") + e.what());
  }
}

}  // namespace detail

expected<broadcast> decode_broadcast(std::string_view bytes) {
  auto handle = detail::unpack_bounded(bytes);
  if (!handle) {
    return unexpected(handle.error());
  }
  const object& root = handle->get();
  if (root.type != mt::ARRAY || root.via.array.size < 3) {
    return unexpected(std::string("not a [uid, packet, opts] array"));
  }
  return detail::broadcast_of(root.via.array.ptr[0], root.via.array.ptr[1], root.via.array.ptr[2]);
}

}  // namespace chatd::wire
