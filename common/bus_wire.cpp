// The Redis bus wire format: @socket.io/redis-adapter's classic broadcast message as notepack.io 3
// writes it, so a Node server with that adapter and chatd read each other's broadcasts.
//
// Encoding walks a simdjson DOM of packet.data and writes msgpack byte for byte as notepack does
// for JSON.parse(data_json): strings fixstr/str8/16/32 by UTF-8 length, integers in their smallest
// form, other numbers float64, objects with their keys in JavaScript's own-key order (array-index
// keys first, ascending; a repeated key keeps its first place and its last value).
// Decoding uses msgpack-cxx and renders packet.data back to JSON text the way
// JSON.stringify(notepack.decode(bytes)[1].data) would.
// Binary: socket.io-parser carries Buffers as placeholders plus attachments, the adapter as
// msgpack bin inside packet.data; placeholders and bins are swapped at this boundary.
//
// Deliberate differences from notepack, all at the edges of what JSON.parse can produce:
//   - integers beyond 2^53 are carried exactly (JavaScript would have rounded them first);
//   - integral values outside [-2^63, 2^64) are written as float64 (notepack wraps them);
//   - integers beyond 64 bits and lone surrogate escapes, which simdjson refuses, are repaired
//     first (see js_compatible_json); numbers beyond the double range (1e400) are an error.

#include "common/bus_wire.h"

#include "common/json_text.h"
#include "common/js_key_order.h"
#include "common/json_unicode.h"
#include "common/placeholder.h"
#include "common/utf8.h"

#include <msgpack.hpp>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <unordered_map>

namespace chatd::wire {

// ---------------------------------------------------------------------------------------------
// Channels

std::string broadcast_channel(std::string_view prefix, std::string_view nsp) {
  std::string out;
  out.reserve(prefix.size() + nsp.size() + 2);
  out.append(prefix).append("#").append(nsp).append("#");
  return out;
}

std::string room_channel(std::string_view prefix, std::string_view nsp, std::string_view room) {
  std::string out = broadcast_channel(prefix, nsp);
  out.append(room).append("#");
  return out;
}

std::optional<std::string> room_of_channel(std::string_view channel, std::string_view prefix,
                                           std::string_view nsp) {
  // Matches the adapter's own test: the channel starts with "<prefix>#<nsp>#"; what follows,
  // minus the closing '#', is the room (a room may itself contain '#').
  const size_t base = prefix.size() + nsp.size() + 2;
  if (channel.size() < base || channel.substr(0, prefix.size()) != prefix ||
      channel[prefix.size()] != '#' || channel.substr(prefix.size() + 1, nsp.size()) != nsp ||
      channel[base - 1] != '#') {
    return std::nullopt;
  }
  std::string_view rest = channel.substr(base);
  if (rest.empty()) {
    return std::string();
  }
  if (rest.back() != '#') {
    return std::nullopt;
  }
  rest.remove_suffix(1);
  return std::string(rest);
}

namespace {

// ---------------------------------------------------------------------------------------------
// JavaScript's own-key order, shared by the encoder (JSON.parse then notepack) and the decoder
// (notepack then JSON.stringify).

template <class V>
struct keyed {
  std::string_view key;
  V value;
};

// Reorders `entries` in place into JavaScript's own-key order and collapses repeated keys (first
// position, last value). Small objects (the usual chat payload) take the quadratic path, which
// allocates nothing.
template <class V>
void js_key_order(std::vector<keyed<V>>& entries) {
  constexpr size_t k_linear_max = 16;
  bool any_dup = false;
  if (entries.size() <= k_linear_max) {
    for (size_t i = 0; i < entries.size(); ++i) {
      for (size_t j = 0; j < i && !any_dup; ++j) {
        any_dup = entries[j].key == entries[i].key;
      }
    }
  } else {
    std::unordered_map<std::string_view, size_t> seen;
    seen.reserve(entries.size());
    for (auto& e : entries) {
      any_dup = !seen.emplace(e.key, 0).second || any_dup;
    }
  }
  if (any_dup) {
    std::vector<keyed<V>> unique;
    unique.reserve(entries.size());
    std::unordered_map<std::string_view, size_t> where;
    for (auto& e : entries) {
      auto [it, fresh] = where.emplace(e.key, unique.size());
      if (fresh) {
        unique.push_back(e);
      } else {
        unique[it->second].value = e.value;
      }
    }
    entries.swap(unique);
  }
  sort_js_key_order(entries.begin(), entries.end(), [](const keyed<V>& e) { return e.key; });
}

// ---------------------------------------------------------------------------------------------
// msgpack writer: the encodings notepack picks.

class mp_writer {
 public:
  explicit mp_writer(std::string& out) : out_(out) {}

  void byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void be(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
      byte(static_cast<uint8_t>(v >> (8 * i)));
    }
  }

  bool str(std::string_view s) {
    if (s.size() < 0x20) {
      byte(static_cast<uint8_t>(0xa0 | s.size()));
    } else if (!sized_header(s.size(), 0xd9, 0xda, 0xdb)) {
      return false;
    }
    out_.append(s);
    return true;
  }

  // A Buffer, as notepack writes it.
  bool bin(std::string_view b) {
    if (!sized_header(b.size(), 0xc4, 0xc5, 0xc6)) return false;
    out_.append(b);
    return true;
  }

  // The 8/16/32-bit length forms shared by str and bin.
  bool sized_header(size_t n, uint8_t tag8, uint8_t tag16, uint8_t tag32) {
    if (n < 0x100) {
      byte(tag8);
      be(n, 1);
    } else if (n < 0x10000) {
      byte(tag16);
      be(n, 2);
    } else if (n <= 0xffffffffULL) {
      byte(tag32);
      be(n, 4);
    } else {
      return false;
    }
    return true;
  }

  void uint(uint64_t v) {
    if (v < 0x80) {
      byte(static_cast<uint8_t>(v));
    } else if (v < 0x100) {
      byte(0xcc);
      be(v, 1);
    } else if (v < 0x10000) {
      byte(0xcd);
      be(v, 2);
    } else if (v < 0x100000000ULL) {
      byte(0xce);
      be(v, 4);
    } else {
      byte(0xcf);
      be(v, 8);
    }
  }

  void sint(int64_t v) {
    if (v >= 0) {
      uint(static_cast<uint64_t>(v));
      return;
    }
    const auto bits = static_cast<uint64_t>(v);
    if (v >= -0x20) {
      byte(static_cast<uint8_t>(bits));
    } else if (v >= -0x80) {
      byte(0xd0);
      be(bits, 1);
    } else if (v >= -0x8000) {
      byte(0xd1);
      be(bits, 2);
    } else if (v >= -0x80000000LL) {
      byte(0xd2);
      be(bits, 4);
    } else {
      byte(0xd3);
      be(bits, 8);
    }
  }

  // notepack: an integral finite number takes the integer path, anything else float64. Its
  // 64-bit integer path is exact on [-2^63, 2^64) only, so beyond that we keep the float.
  void number(double d) {
    if (std::isfinite(d) && std::floor(d) == d && d >= -9223372036854775808.0 &&
        d < 18446744073709551616.0) {
      if (d >= 0) {
        uint(static_cast<uint64_t>(d));  // -0.0 lands here too, as notepack's 0x00
      } else {
        sint(static_cast<int64_t>(d));
      }
      return;
    }
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    byte(0xcb);
    be(bits, 8);
  }

  bool array_header(size_t n) {
    if (n < 0x10) {
      byte(static_cast<uint8_t>(0x90 | n));
    } else if (n < 0x10000) {
      byte(0xdc);
      be(n, 2);
    } else if (n <= 0xffffffffULL) {
      byte(0xdd);
      be(n, 4);
    } else {
      return false;
    }
    return true;
  }

  bool map_header(size_t n) {
    if (n < 0x10) {
      byte(static_cast<uint8_t>(0x80 | n));
    } else if (n < 0x10000) {
      byte(0xde);
      be(n, 2);
    } else if (n <= 0xffffffffULL) {
      byte(0xdf);
      be(n, 4);
    } else {
      return false;
    }
    return true;
  }

  void nil() { byte(0xc0); }
  void boolean(bool b) { byte(b ? 0xc3 : 0xc2); }

 private:
  std::string& out_;
};

// ---------------------------------------------------------------------------------------------
// Encoder: simdjson DOM -> msgpack.

using simdjson::dom::element;
using simdjson::dom::element_type;

bool encode_json(mp_writer& w, element e, std::string& err,
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
      std::vector<keyed<element>> entries;
      entries.reserve(o.size());
      for (auto field : o) {
        entries.push_back({field.key, field.value});
      }
      js_key_order(entries);
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

// JSON.stringify writes two things simdjson 3.0 refuses: integers beyond 64 bits (1e20 prints as
// "100000000000000000000") and lone surrogates as "\ud800" escapes (a string cut inside an
// emoji). Only when simdjson has refused the text, this rewrites such integers as decimals (they
// become the same double JSON.parse makes) and lone surrogates as U+FFFD (what Buffer.write does
// with them when notepack writes the string).
bool integer_fits_64(std::string_view digits, bool negative) {
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  if (digits.size() != limit.size()) {
    return digits.size() < limit.size();
  }
  return digits <= limit;
}

std::string js_compatible_json(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  bool in_string = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < s.size()) {
        // An escape is copied whole so an escaped quote does not end the string; lone surrogate
        // escapes are repaired once the whole text is copied (in place, same length).
        out.append(s.substr(i, 2));
        i += 2;
        continue;
      }
      out += c;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < s.size() && (s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' ||
                              s[j] == 'E' || (s[j] >= '0' && s[j] <= '9'))) {
        ++j;
      }
      const std::string_view token = s.substr(i, j - i);
      out.append(token);
      const bool negative = token.front() == '-';
      const std::string_view digits = token.substr(negative ? 1 : 0);
      if (!digits.empty() &&
          digits.find_first_not_of("0123456789") == std::string_view::npos &&
          !integer_fits_64(digits, negative)) {
        out += ".0";
      }
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  neutralize_lone_surrogates(out.data(), out.size());
  return out;
}

// One parser per thread: it keeps its buffers between messages (a worker is single-threaded).
simdjson::dom::parser& json_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

bool write_string_array(mp_writer& w, const std::vector<std::string>& items) {
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
  mp_writer w(out);
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

namespace {

// ---------------------------------------------------------------------------------------------
// Decoder: msgpack-cxx object -> JSON text as JSON.stringify would print notepack's result.

using msgpack::object;
namespace mt = msgpack::type;

// Deeper than anything simdjson (depth 1024) lets a client send; bounds the renderer's recursion.
constexpr size_t k_max_depth = 1100;

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
  std::vector<keyed<const object*>> entries;
  entries.reserve(o.via.map.size);
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    if (!key_text(o.via.map.ptr[i].key, names[i], err)) {
      return false;
    }
    entries.push_back({names[i], &o.via.map.ptr[i].val});
  }
  js_key_order(entries);
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
  if (depth > k_max_depth) {
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

// Finds `name` among a map's string keys (the last one wins, as with JS assignment).
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

bool ref_everything(mt::object_type, std::size_t, void*) { return true; }

expected<broadcast> decode_object(const object& root) {
  if (root.type != mt::ARRAY || root.via.array.size < 3) {
    return unexpected(std::string("not a [uid, packet, opts] array"));
  }
  const object& uid = root.via.array.ptr[0];
  const object& packet = root.via.array.ptr[1];
  const object& opts = root.via.array.ptr[2];
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
    b.nsp = "/";  // the emitter and old adapters leave it out
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

}  // namespace

expected<broadcast> decode_broadcast(std::string_view bytes) {
  if (bytes.empty()) {
    return unexpected(std::string("empty message"));
  }
  // Each array element or map entry takes at least one byte (two for a map entry): limiting the
  // counts by the input size stops a forged 5-byte header from reserving gigabytes.
  const size_t n = bytes.size();
  const msgpack::unpack_limit limit(n, n / 2 + 1, n, n, n, k_max_depth);
  try {
    size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), n, offset, ref_everything, nullptr, limit);
    if (offset != n) {
      return unexpected(std::to_string(n - offset) + " trailing bytes");
    }
    return decode_object(handle.get());
  } catch (const msgpack::insufficient_bytes&) {
    return unexpected(std::string("truncated msgpack"));
  } catch (const std::bad_alloc&) {
    return unexpected(std::string("msgpack: out of memory"));
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed msgpack: ") + e.what());
  }
}

}  // namespace chatd::wire
