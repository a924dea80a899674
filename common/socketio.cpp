// Socket.IO v5 packets: the decoder with the reference parser's rules (socket.io-parser
// `decodeString` + `isPacketValid`), a small scanner that cuts an EVENT's arguments out of its
// JSON without building anything, and the server-side encoders. Every chat message passes
// through parse() and split_event(), so they do not allocate in steady state (an event name too
// long for std::string's inline buffer aside): JSON is validated by simdjson with a parser and a
// padded copy buffer kept per thread, which grow to the largest packet seen and stay.

#include "common/socketio.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "common/json_text.h"
#include "common/json_js_compat.h"
#include "common/json_unicode.h"
#include "common/placeholder.h"

namespace chatd::sio {

namespace {

// Event names the reference decoder refuses (they mean something to Socket.IO or EventEmitter).
constexpr std::array<std::string_view, 6> reserved_events = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

// socket.io-parser's default `maxAttachments`.
constexpr uint32_t max_attachments = 10;

// Largest ack id accepted: Number.MAX_SAFE_INTEGER, the largest the reference keeps exactly.
constexpr int64_t max_ack_id = (int64_t{1} << 53) - 1;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return false;
}

// --- JSON validation ---------------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input; the packet text is a
// view into someone else's buffer, so it is copied into this one, which only ever grows.
class padded_scratch {
 public:
  char* copy(std::string_view text) {
    size_t need = text.size() + simdjson::SIMDJSON_PADDING;
    if (need > capacity_) {
      capacity_ = std::max(need, capacity_ * 2);
      buf_ = std::make_unique<char[]>(capacity_);
    }
    std::memcpy(buf_.get(), text.data(), text.size());
    std::memset(buf_.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return buf_.get();
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

bool is_reserved(std::string_view name) {
  for (auto r : reserved_events) {
    if (name == r) return true;
  }
  return false;
}

bool is_number(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

// Parses `data` as one JSON document and applies the reference's isDataValid() for `type`.
bool valid_data(packet_type type, std::string_view data, std::string* why) {
  using simdjson::dom::element_type;
  thread_local simdjson::dom::parser parser;
  thread_local padded_scratch scratch;

  char* buf = scratch.copy(data);
  neutralize_lone_surrogates(buf, data.size());
  simdjson::dom::element root;
  auto error = parser.parse(buf, data.size(), false).get(root);
  std::string repaired;
  if (error == simdjson::NUMBER_ERROR) {
    // JSON.stringify(1e20) is "100000000000000000000": valid for every JS peer, refused by
    // simdjson. Validate the repaired text; the packet itself is relayed as it came.
    repaired = js_compatible_json(data);
    error = parser.parse(repaired).get(root);
  }
  if (error != simdjson::SUCCESS) {
    return fail(why, "invalid JSON");
  }
  element_type t = root.type();
  switch (type) {
    case packet_type::connect:
      return t == element_type::OBJECT || fail(why, "CONNECT payload must be an object");
    case packet_type::disconnect:
      return fail(why, "DISCONNECT must have no payload");
    case packet_type::connect_error:
      return t == element_type::STRING || t == element_type::OBJECT ||
             fail(why, "CONNECT_ERROR payload must be a string or an object");
    case packet_type::event:
    case packet_type::binary_event: {
      simdjson::dom::array args;
      if (root.get_array().get(args) != simdjson::SUCCESS) {
        return fail(why, "EVENT payload must be an array");
      }
      auto it = args.begin();
      if (it == args.end()) return fail(why, "EVENT payload must not be empty");
      simdjson::dom::element name = *it;
      if (is_number(name.type())) return true;
      std::string_view text;
      if (name.get_string().get(text) != simdjson::SUCCESS) {
        return fail(why, "EVENT name must be a string or a number");
      }
      return !is_reserved(text) || fail(why, "EVENT name is reserved");
    }
    case packet_type::ack:
    case packet_type::binary_ack:
      return t == element_type::ARRAY || fail(why, "ACK payload must be an array");
  }
  return fail(why, "unknown packet type");
}

}  // namespace

// --- decoder -----------------------------------------------------------------------------------

std::optional<packet> parse(std::string_view text, std::string* why) {
  packet p;
  if (text.empty() || text[0] < '0' || text[0] > '6') {
    fail(why, "unknown packet type");
    return std::nullopt;
  }
  p.type = static_cast<packet_type>(text[0] - '0');
  size_t i = 1;

  if (p.type == packet_type::binary_event || p.type == packet_type::binary_ack) {
    // "<n>-": the number of binary attachments that follow, 1..max_attachments.
    size_t start = i;
    uint32_t n = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      n = std::min<uint32_t>(n * 10 + static_cast<uint32_t>(text[i] - '0'), max_attachments + 1);
    }
    if (i == start || i >= text.size() || text[i] != '-' || n < 1 || n > max_attachments) {
      fail(why, "illegal attachments");
      return std::nullopt;
    }
    p.attachments = n;
    ++i;
  }

  if (i < text.size() && text[i] == '/') {
    // The namespace runs to the comma, or to the end of the text ("40/custom").
    size_t comma = text.find(',', i);
    if (comma == std::string_view::npos) {
      p.nsp = text.substr(i);
      i = text.size();
    } else {
      p.nsp = text.substr(i, comma - i);
      i = comma + 1;
    }
  }

  if (i < text.size() && is_digit(text[i])) {
    int64_t id = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      id = id * 10 + (text[i] - '0');
      if (id > max_ack_id) {
        fail(why, "ack id too large");
        return std::nullopt;
      }
    }
    p.ack_id = id;
  }

  p.data = text.substr(i);
  if (p.data.empty()) {
    // Only CONNECT (auth defaults to {}) and DISCONNECT may come without data.
    if (p.type == packet_type::connect || p.type == packet_type::disconnect) return p;
    fail(why, "missing payload");
    return std::nullopt;
  }
  if (p.type == packet_type::disconnect) {
    fail(why, "DISCONNECT must have no payload");
    return std::nullopt;
  }
  if (!valid_data(p.type, p.data, why)) return std::nullopt;
  return p;
}

// --- EVENT arguments ---------------------------------------------------------------------------

namespace {

// Walks JSON that simdjson already validated, so it only tracks strings and nesting; still, it
// never reads past the end, and says so (returns npos) if the text is not what it expects.
class json_scanner {
 public:
  explicit json_scanner(std::string_view s) : s_(s) {}

  size_t pos() const { return i_; }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void advance() { ++i_; }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }

  // With i_ on an opening quote: moves past the closing one. False if the string never ends.
  bool skip_string() {
    size_t from = i_ + 1;
    while (true) {
      const void* hit = from < s_.size() ? std::memchr(s_.data() + from, '"', s_.size() - from)
                                         : nullptr;
      if (hit == nullptr) return false;
      size_t q = static_cast<size_t>(static_cast<const char*>(hit) - s_.data());
      // The quote is escaped when an odd number of backslashes precede it.
      size_t backslashes = 0;
      while (q - backslashes > i_ + 1 && s_[q - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) {
        i_ = q + 1;
        return true;
      }
      from = q + 1;
    }
  }

  // Moves past one value of any kind. False on text it cannot make sense of.
  bool skip_value() {
    char c = peek();
    if (c == '"') return skip_string();
    if (c == '[' || c == '{') {
      size_t depth = 0;
      while (i_ < s_.size()) {
        char d = s_[i_];
        if (d == '"') {
          if (!skip_string()) return false;
          continue;
        }
        if (d == '[' || d == '{') ++depth;
        if (d == ']' || d == '}') {
          if (--depth == 0) {
            ++i_;
            return true;
          }
        }
        ++i_;
      }
      return false;
    }
    // A number or a literal: up to the next delimiter.
    size_t start = i_;
    while (i_ < s_.size()) {
      char d = s_[i_];
      if (d == ',' || d == ']' || d == '}' || d == ' ' || d == '\t' || d == '\n' || d == '\r') {
        break;
      }
      ++i_;
    }
    return i_ > start;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Unescapes the body of a JSON string literal (quotes excluded). A lone surrogate escape cannot
// be written as UTF-8 and becomes U+FFFD.
bool unescape_json_string(std::string_view body, std::string& out) {
  out.clear();
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= body.size()) return false;
    switch (body[i]) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        u_escape e = read_u_escape(body, i - 1);
        if (e.length == 0) return false;
        i += e.length - 2;  // i is at the 'u'; the loop steps past the last digit
        append_utf8(out, e.code_point);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

std::optional<event_args> split_event(std::string_view data) {
  json_scanner sc(data);
  event_args ev;
  sc.skip_ws();
  if (sc.peek() != '[') return std::nullopt;
  sc.advance();
  sc.skip_ws();

  size_t name_start = sc.pos();
  char c = sc.peek();
  if (c == '"') {
    if (!sc.skip_string()) return std::nullopt;
    std::string_view body = data.substr(name_start + 1, sc.pos() - name_start - 2);
    if (!unescape_json_string(body, ev.name)) return std::nullopt;
  } else if (c == '-' || is_digit(c)) {
    if (!sc.skip_value()) return std::nullopt;
    ev.name.assign(data.substr(name_start, sc.pos() - name_start));
  } else {
    return std::nullopt;
  }

  size_t args_start = 0;
  while (true) {
    sc.skip_ws();
    char d = sc.peek();
    if (d == ']') return ev;
    if (d != ',') return std::nullopt;
    sc.advance();
    sc.skip_ws();
    size_t start = sc.pos();
    if (sc.at_end() || !sc.skip_value()) return std::nullopt;
    if (ev.argc == 0) {
      ev.first_arg = data.substr(start, sc.pos() - start);
      args_start = start;
    }
    ev.args = data.substr(args_start, sc.pos() - args_start);
    ++ev.argc;
  }
}

std::optional<std::string_view> first_element(std::string_view array) {
  json_scanner sc(array);
  sc.skip_ws();
  if (sc.peek() != '[') return std::nullopt;
  sc.advance();
  sc.skip_ws();
  if (sc.peek() == ']') return std::string_view();
  size_t start = sc.pos();
  if (sc.at_end() || !sc.skip_value()) return std::nullopt;
  return array.substr(start, sc.pos() - start);
}

// --- encoders ----------------------------------------------------------------------------------

// Binary types get no "<n>-" count here (the signature has no room for one): encode_binary
// writes those.
std::string encode(packet_type type, std::string_view nsp, std::string_view data, int64_t ack_id) {
  bool named = !nsp.empty() && nsp != "/";
  std::string out;
  out.reserve(2 + (named ? nsp.size() + 1 : 0) + (ack_id >= 0 ? 20 : 0) + data.size());
  out.push_back('4');
  out.push_back(static_cast<char>('0' + static_cast<int>(type)));
  if (named) {
    out.append(nsp);
    out.push_back(',');
  }
  if (ack_id >= 0) out.append(std::to_string(ack_id));
  out.append(data);
  return out;
}

namespace {

// reconstructPacket's check (common/placeholder.h), depth-first; a placeholder's other members
// are not looked at (it is replaced whole).
bool placeholders_ok(simdjson::dom::element e, size_t attachments) {
  using simdjson::dom::element_type;
  if (e.type() == element_type::ARRAY) {
    simdjson::dom::array items = e.get_array().value_unsafe();
    for (simdjson::dom::element item : items) {
      if (!placeholders_ok(item, attachments)) return false;
    }
    return true;
  }
  if (e.type() != element_type::OBJECT) return true;
  simdjson::dom::object o = e.get_object().value_unsafe();
  const placeholder_ref p = read_placeholder(o, attachments);
  if (p.what != placeholder_ref::kind::none) return p.what == placeholder_ref::kind::valid;
  for (auto field : o) {
    if (!placeholders_ok(field.value, attachments)) return false;
  }
  return true;
}

}  // namespace

bool valid_placeholders(std::string_view data, size_t attachments) {
  thread_local simdjson::dom::parser parser;
  thread_local padded_scratch scratch;
  char* buf = scratch.copy(data);
  neutralize_lone_surrogates(buf, data.size());
  simdjson::dom::element root;
  if (parser.parse(buf, data.size(), false).get(root) != simdjson::SUCCESS) return false;
  return placeholders_ok(root, attachments);
}

std::string event_head(std::string_view event) {
  std::string out;
  out.reserve(6 + event.size());
  out.append("42[");
  append_json_string(out, event);
  out.push_back(',');
  return out;
}

std::string event_head(std::string_view nsp, std::string_view event) {
  if (nsp.empty() || nsp == "/") return event_head(event);
  std::string out;
  out.reserve(8 + nsp.size() + event.size());
  out.append("42").append(nsp).append(",[");
  append_json_string(out, event);
  out.push_back(',');
  return out;
}

std::string encode_event_args(std::string_view nsp, std::string_view event,
                              std::string_view args_json) {
  std::string out = event_head(nsp, event);
  if (args_json.empty()) {
    out.back() = ']';
    return out;
  }
  out.append(args_json).append(event_tail);
  return out;
}

std::string encode_event(std::string_view event, std::string_view arg_json) {
  std::string out = event_head(event);
  if (arg_json.empty()) {
    out.back() = ']';  // no argument: 42["<event>"]
    return out;
  }
  out.append(arg_json).append(event_tail);
  return out;
}

std::string event_data(std::string_view event, std::string_view arg_json) {
  std::string out;
  out.reserve(event.size() + arg_json.size() + 6);
  out.push_back('[');
  append_json_string(out, event);
  out.push_back(',');
  out.append(arg_json).append(event_tail);
  return out;
}

std::string binary_event_head(size_t attachments) {
  std::string out(type_prefix(packet_type::binary_event));
  out.append(std::to_string(attachments)).push_back('-');
  return out;
}

std::string encode_binary(packet_type type, std::string_view nsp, size_t attachments,
                          std::string_view data, int64_t ack_id) {
  bool named = !nsp.empty() && nsp != "/";
  std::string out(type_prefix(type));
  out.append(std::to_string(attachments)).push_back('-');
  if (named) out.append(nsp).push_back(',');
  if (ack_id >= 0) out.append(std::to_string(ack_id));
  out.append(data);
  return out;
}

std::string encode_ack(int64_t ack_id, std::string_view args_json) {
  return encode(packet_type::ack, "/", args_json, ack_id);
}

std::string encode_ack(std::string_view nsp, int64_t ack_id, std::string_view args_json) {
  return encode(packet_type::ack, nsp, args_json, ack_id);
}

std::string encode_connect_reply(std::string_view nsp, std::string_view sid) {
  std::string body(R"({"sid":")");
  body.append(sid).append(R"("})");
  return encode(packet_type::connect, nsp, body);
}

std::string encode_connect_reply(std::string_view nsp, std::string_view sid, std::string_view pid) {
  std::string body(R"({"sid":")");
  body.append(sid).append(R"(","pid":")").append(pid).append(R"("})");
  return encode(packet_type::connect, nsp, body);
}

std::string encode_disconnect(std::string_view nsp) {
  return encode(packet_type::disconnect, nsp, {});
}

std::string encode_connect_error(std::string_view nsp, std::string_view message) {
  return encode_connect_error(nsp, message, {});
}

std::string encode_connect_error(std::string_view nsp, std::string_view message,
                                 std::string_view data_json) {
  std::string body = "{\"message\":";
  append_json_string(body, message);
  if (!data_json.empty()) body.append(",\"data\":").append(data_json);
  body.push_back('}');
  return encode(packet_type::connect_error, nsp, body);
}

}  // namespace chatd::sio
