// The Redis layout of history and connection state recovery (see recovery_wire.h).

#include "common/recovery_wire.h"

#include "common/base64.h"
#include "common/bus_msgpack.h"
#include "common/json_text.h"
#include "common/msgpack_writer.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>

namespace chatd::recovery_wire {
namespace {

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

void append_string_array(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, items[i]);
  }
  out += ']';
}

// Entries are read rarely (a restore) and may come from another implementation: a parser of
// their own, so a read never clobbers the bus codec's thread-local DOM.
simdjson::dom::parser& entry_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

bool read_strings(simdjson::dom::element e, std::vector<std::string>& out) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) return false;
  for (simdjson::dom::element item : a) {
    std::string_view s;
    if (item.get_string().get(s)) return false;
    out.emplace_back(s);
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------------------------- stream ids

std::optional<stream_id> parse_stream_id(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  stream_id id;
  if (!parse_decimal(text.substr(0, dash), id.ms) || !parse_decimal(text.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

std::string to_string(stream_id id) { return std::to_string(id.ms) + "-" + std::to_string(id.seq); }

// ------------------------------------------------------------------------------------- keys

std::string namespace_stream_key(std::string_view key) { return std::string(key); }

std::string history_stream_key(std::string_view key, std::string_view nsp, std::string_view room) {
  std::string out;
  out.reserve(key.size() + nsp.size() + room.size() + 11);
  out.append(key).append("#").append(nsp).append("#").append(room).append("#history");
  return out;
}

std::string session_key(std::string_view key, std::string_view pid) {
  std::string out(key);
  out.append(":session:").append(pid);
  return out;
}

// -------------------------------------------------------------------------------- recording

expected<recorded_broadcast> record_broadcast(const wire::broadcast& b) {
  if (b.type != 2 || !b.attachments.empty() || b.has_ack_id || b.volatile_flag) {
    return unexpected(std::string("only plain EVENT broadcasts are recorded"));
  }
  auto parsed = wire::detail::parse_js_json(b.data_json);
  if (!parsed) return unexpected("data_json: " + parsed.error());
  simdjson::dom::array data;
  if (parsed->get_array().get(data)) return unexpected(std::string("data_json: not a JSON array"));

  recorded_broadcast r;
  wire::msgpack_writer head(r.message_head);
  head.array_header(3);
  head.str(b.uid);
  head.map_header(3);
  head.str("type");
  head.sint(b.type);
  head.str("data");
  if (!head.array_header(data.size() + 1)) return unexpected(std::string("data_json: too long"));
  std::string err;
  for (simdjson::dom::element e : data) {
    if (!wire::detail::write_json_value(head, e, err, {})) return unexpected("data_json: " + err);
  }
  wire::msgpack_writer tail(r.message_tail);
  tail.str("nsp");
  tail.str(b.nsp);
  if (!wire::detail::write_opts(tail, b, std::nullopt, err)) return unexpected(err);

  std::string& j = r.entry_data;
  j.reserve(b.data_json.size() + 96);
  j.append(R"({"packet":{"type":2,"data":)").append(b.data_json).append(R"(,"nsp":)");
  append_json_string(j, b.nsp);
  j.append(R"(},"opts":{"rooms":)");
  append_string_array(j, b.rooms);
  j.append(R"(,"except":)");
  append_string_array(j, b.except);
  j.append(R"(,"flags":{}}})");
  return r;
}

std::string splice_offset(const recorded_broadcast& r, std::string_view id) {
  std::string out = r.message_head;
  wire::msgpack_writer(out).str(id);
  out += r.message_tail;
  return out;
}

// ---------------------------------------------------------------------------------- reading

expected<std::optional<replay_event>> decode_entry(std::string_view nsp_field,
                                                   std::string_view type_field,
                                                   std::string_view data_field,
                                                   std::string_view nsp) {
  // Type "3" is ClusterAdapter's BROADCAST; heartbeats and requests of Node nodes share the stream.
  if (nsp_field != nsp || type_field != "3") return std::optional<replay_event>();
  // The streams adapter writes data with binary as base64 msgpack: not replayed (chatd records
  // no binary broadcast either).
  if (data_field.empty() || data_field.front() != '{') return std::optional<replay_event>();
  simdjson::dom::element root;
  if (auto error = entry_parser().parse(data_field.data(), data_field.size()).get(root)) {
    return unexpected(std::string("entry data: ") + simdjson::error_message(error));
  }
  simdjson::dom::element packet, opts, data;
  if (root["packet"].get(packet) || root["opts"].get(opts) || packet["data"].get(data) ||
      !data.is_array()) {
    return unexpected(std::string("entry data: no packet.data array or no opts"));
  }
  int64_t type = 0;
  if (packet["type"].get_int64().get(type) || type != 2) return std::optional<replay_event>();
  simdjson::dom::element ignored;
  if (!packet["id"].get(ignored)) return std::optional<replay_event>();  // expects acks
  simdjson::dom::element flags;
  if (!opts["flags"].get(flags) && flags.is_object() && !flags["volatile"].get(ignored)) {
    return std::optional<replay_event>();
  }
  replay_event e;
  e.data_json = simdjson::minify(data);
  simdjson::dom::element list;
  if (!opts["rooms"].get(list) && !read_strings(list, e.rooms)) {
    return unexpected(std::string("entry data: opts.rooms is not a list of strings"));
  }
  if (!opts["except"].get(list) && !read_strings(list, e.except)) {
    return unexpected(std::string("entry data: opts.except is not a list of strings"));
  }
  return std::optional<replay_event>(std::move(e));
}

bool should_include(const std::vector<std::string>& session_rooms, const replay_event& e) {
  auto in = [](const std::vector<std::string>& list, const std::string& room) {
    return std::find(list.begin(), list.end(), room) != list.end();
  };
  bool included = e.rooms.empty() || std::any_of(session_rooms.begin(), session_rooms.end(),
                                                 [&](const std::string& r) { return in(e.rooms, r); });
  bool excluded = std::any_of(session_rooms.begin(), session_rooms.end(),
                              [&](const std::string& r) { return in(e.except, r); });
  return included && !excluded;
}

std::string with_offset(std::string_view data_json, std::string_view id) {
  // The array's closing bracket is its last non-blank character.
  size_t close = data_json.find_last_not_of(" \t\r\n");
  std::string out;
  out.reserve(data_json.size() + id.size() + 3);
  out.append(data_json.substr(0, close));
  // An empty array gets no comma (a replayed packet always has its event name, though).
  size_t before = out.find_last_not_of(" \t\r\n");
  if (before != std::string::npos && out[before] != '[') out += ',';
  out.append("\"").append(id).append("\"]");
  return out;
}

std::optional<stream_id> offset_of(std::string_view data_json) {
  // The last element, read from the end: `"<digits>-<digits>"]`. A quote inside a string is
  // escaped, so an unescaped quote preceded by a comma is an element boundary.
  if (data_json.size() < 6 || data_json.back() != ']') return std::nullopt;
  size_t close_quote = data_json.size() - 2;
  if (data_json[close_quote] != '"') return std::nullopt;
  size_t open_quote = data_json.rfind('"', close_quote - 1);
  if (open_quote == std::string_view::npos || open_quote == 0) return std::nullopt;
  if (data_json[open_quote - 1] != ',') return std::nullopt;
  return parse_stream_id(data_json.substr(open_quote + 1, close_quote - open_quote - 1));
}

// ---------------------------------------------------------------------------- session record

std::string encode_session(const session_record& s) {
  std::string bytes;
  wire::msgpack_writer w(bytes);
  w.map_header(4);
  w.str("sid");
  w.str(s.sid);
  w.str("pid");
  w.str(s.pid);
  w.str("rooms");
  w.array_header(s.rooms.size());
  for (const std::string& r : s.rooms) w.str(r);
  w.str("data");
  w.map_header(0);
  return base64::encode(bytes);
}

expected<session_record> decode_session(std::string_view text) {
  std::optional<std::string> bytes = base64::decode(text);
  if (!bytes) return unexpected(std::string("session record: not base64"));
  auto handle = wire::detail::unpack_bounded(*bytes);
  if (!handle) return unexpected("session record: " + handle.error());
  const msgpack::object& root = handle->get();
  if (root.type != msgpack::type::MAP) return unexpected(std::string("session record: not a map"));
  session_record s;
  auto text_of = [&](std::string_view name, std::string& out) {
    const msgpack::object* o = wire::detail::field(root, name);
    if (o == nullptr || o->type != msgpack::type::STR) return false;
    out.assign(o->via.str.ptr, o->via.str.size);
    return true;
  };
  if (!text_of("sid", s.sid) || !text_of("pid", s.pid)) {
    return unexpected(std::string("session record: no sid or pid"));
  }
  const msgpack::object* rooms = wire::detail::field(root, "rooms");
  if (rooms == nullptr || rooms->type != msgpack::type::ARRAY) {
    return unexpected(std::string("session record: no rooms"));
  }
  for (uint32_t i = 0; i < rooms->via.array.size; ++i) {
    const msgpack::object& r = rooms->via.array.ptr[i];
    if (r.type != msgpack::type::STR) return unexpected(std::string("session record: a room is not a string"));
    s.rooms.emplace_back(r.via.str.ptr, r.via.str.size);
  }
  return s;
}

}  // namespace chatd::recovery_wire
