// The sharded adapter's encoder: a sharded::message to the bytes a Node 8.3 ShardedRedisAdapter
// publishes for it. Node builds {type, data} in ClusterAdapter (data's members in the order of
// its object literals), publishAndReturnOffset / publishResponse add uid then nsp, and encode()
// picks JSON.stringify, or notepack when the type may carry binary and hasBinary(data).
//
// One writer serves both encodings, member by member in that order: JSON text, or msgpack with
// notepack's choices (msgpack_writer). Carried JSON goes through the broadcast codec's machinery:
// re-printed as JSON.stringify(JSON.parse(text)) would, or written as notepack would write
// JSON.parse(text) with placeholders turned back into bins.

#include "common/sharded_wire.h"

#include "common/bus_fields.h"
#include "common/bus_msgpack.h"
#include "common/json_text.h"
#include "common/msgpack_writer.h"

#include <simdjson.h>

#include <string>
#include <vector>

namespace chatd::wire::sharded {

namespace {

// A JSON-or-msgpack object writer. Objects and arrays are opened with their member count (which
// msgpack needs first and JSON ignores); in JSON every member and element after the first is
// preceded by a comma.
class writer {
 public:
  explicit writer(bool msgpack) : msgpack_(msgpack), w_(out_) {}

  void open_object(size_t members) { open('{', members); }
  void open_array(size_t items) { open('[', items); }
  void close_object() { close('}'); }
  void close_array() { close(']'); }
  // Before each array element.
  void item() {
    if (!msgpack_ && !first_.back()) {
      out_ += ',';
    }
    first_.back() = false;
  }
  void key(std::string_view k) {
    item();
    if (msgpack_) {
      w_.str(k);
    } else {
      append_json_string(out_, k);
      out_ += ':';
    }
  }
  void str(std::string_view v) {
    if (msgpack_) {
      w_.str(v);
    } else {
      append_json_string(out_, v);
    }
  }
  void uint(uint64_t v) {
    if (msgpack_) {
      w_.uint(v);
    } else {
      detail::append_decimal(out_, v);
    }
  }
  void number(double d) {
    if (msgpack_) {
      w_.number(d);
    } else {
      detail::append_js_number(out_, d);
    }
  }
  void boolean(bool b) {
    if (msgpack_) {
      w_.boolean(b);
    } else {
      out_ += b ? "true" : "false";
    }
  }
  void strings(const std::vector<std::string>& items) {
    open_array(items.size());
    for (const auto& s : items) {
      item();
      str(s);
    }
    close_array();
  }
  // A carried JSON value (not "", undefined: the caller leaves the member out) and its Buffers.
  bool value(std::string_view text, const std::vector<std::string>& attachments, std::string& err,
             std::string_view what) {
    if (!msgpack_) {
      if (!attachments.empty()) {
        err = std::string(what) + ": binary in a message Node sends as JSON";
        return false;
      }
      return detail::append_canonical_json(out_, text, err, what);
    }
    auto root = detail::parse_js_json(text);
    if (!root) {
      err = std::string(what) + ": " + root.error();
      return false;
    }
    if (!detail::write_json_value(w_, *root, err, attachments)) {
      err = std::string(what) + ": " + err;
      return false;
    }
    return true;
  }
  std::string done() { return std::move(out_); }

 private:
  void open(char brace, size_t n) {
    if (msgpack_) {
      brace == '{' ? w_.map_header(n) : w_.array_header(n);
    } else {
      out_ += brace;
    }
    first_.push_back(true);
  }
  void close(char brace) {
    if (!msgpack_) {
      out_ += brace;
    }
    first_.pop_back();
  }

  bool msgpack_;
  std::string out_;
  msgpack_writer w_;
  std::vector<bool> first_;
};

// hasBinary(message.data), for the five types Node checks at all.
bool sends_msgpack(const message& m) {
  switch (m.type) {
    case message_type::broadcast:
      return !m.packet.attachments.empty();
    case message_type::broadcast_ack:
    case message_type::server_side_emit:
    case message_type::server_side_emit_response:
      return !m.data.attachments.empty();
    case message_type::fetch_sockets_response:
      for (const auto& s : m.sockets) {
        if (!s.data_attachments.empty()) {
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

bool is_array_text(std::string_view text) {
  const size_t at = text.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && text[at] == '[';
}

// encodeOptions(opts): {rooms, except, flags}; flags as the BroadcastOperator set them
// (.volatile before .timeout() when both, as the classic encoder writes them).
void write_opts(writer& w, const std::vector<std::string>& rooms,
                const std::vector<std::string>& except, bool volatile_flag,
                std::optional<double> timeout_ms) {
  w.key("opts");
  w.open_object(3);
  w.key("rooms");
  w.strings(rooms);
  w.key("except");
  w.strings(except);
  w.key("flags");
  w.open_object((volatile_flag ? 1 : 0) + (timeout_ms ? 1 : 0));
  if (volatile_flag) {
    w.key("volatile");
    w.boolean(true);
  }
  if (timeout_ms) {
    w.key("timeout");
    w.number(*timeout_ms);
  }
  w.close_object();
  w.close_object();
}

// data of BROADCAST: {packet: {type, data}, requestId?, opts}.
bool write_broadcast(writer& w, const message& m, std::string& err) {
  const broadcast& b = m.packet;
  if (!is_array_text(b.data_json)) {
    err = "packet.data_json: not a JSON array";
    return false;
  }
  w.open_object(m.request_id ? 3 : 2);
  w.key("packet");
  w.open_object(2);
  w.key("type");
  w.uint(static_cast<uint64_t>(b.type < 0 ? 0 : b.type));
  w.key("data");
  if (!w.value(b.data_json, b.attachments, err, "packet.data_json")) {
    return false;
  }
  w.close_object();
  if (m.request_id) {
    w.key("requestId");
    w.str(*m.request_id);
  }
  write_opts(w, b.rooms, b.except, b.volatile_flag, m.timeout_ms);
  w.close_object();
  return true;
}

// socket.io's buildHandshake order, less sessionStore: headers, time, address, xdomain, secure,
// issued, url, query, auth; undefined members left out, as both encodings do.
bool write_handshake(writer& w, const handshake& h, std::string& err) {
  const std::vector<std::string> none;
  w.key("handshake");
  w.open_object(5 + (h.headers_json.empty() ? 0 : 1) + (h.url ? 1 : 0) +
                (h.query_json.empty() ? 0 : 1) + (h.auth_json.empty() ? 0 : 1));
  if (!h.headers_json.empty()) {
    w.key("headers");
    if (!w.value(h.headers_json, none, err, "handshake.headers")) {
      return false;
    }
  }
  w.key("time");
  w.str(h.time);
  w.key("address");
  w.str(h.address);
  w.key("xdomain");
  w.boolean(h.xdomain);
  w.key("secure");
  w.boolean(h.secure);
  w.key("issued");
  w.uint(h.issued);
  if (h.url) {
    w.key("url");
    w.str(*h.url);
  }
  if (!h.query_json.empty()) {
    w.key("query");
    if (!w.value(h.query_json, none, err, "handshake.query")) {
      return false;
    }
  }
  if (!h.auth_json.empty()) {
    w.key("auth");
    if (!w.value(h.auth_json, none, err, "handshake.auth")) {
      return false;
    }
  }
  w.close_object();
  return true;
}

// data of FETCH_SOCKETS_RESPONSE: {requestId, sockets: [{id, handshake, rooms, data}]}.
bool write_sockets(writer& w, const message& m, std::string& err) {
  w.key("sockets");
  w.open_array(m.sockets.size());
  for (size_t i = 0; i < m.sockets.size(); ++i) {
    const remote_socket& s = m.sockets[i];
    w.item();
    w.open_object(s.data_json.empty() ? 3 : 4);
    w.key("id");
    w.str(s.id);
    if (!write_handshake(w, s.hs, err)) {
      err = "sockets[" + std::to_string(i) + "]." + err;
      return false;
    }
    w.key("rooms");
    w.strings(s.rooms);
    if (!s.data_json.empty()) {
      w.key("data");
      if (!w.value(s.data_json, s.data_attachments, err, "data")) {
        err = "sockets[" + std::to_string(i) + "]." + err;
        return false;
      }
    }
    w.close_object();
  }
  w.close_array();
  return true;
}

bool needs_request_id(message_type t) {
  return t == message_type::fetch_sockets || t == message_type::fetch_sockets_response ||
         t == message_type::server_side_emit_response || t == message_type::broadcast_client_count ||
         t == message_type::broadcast_ack;
}

// data of SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE and BROADCAST_ACK: {requestId?, packet?};
// the emit's requestId only with an ack, an answer's packet left out when it is undefined.
bool write_packet_answer(writer& w, const message& m, std::string& err) {
  w.open_object((m.request_id ? 1 : 0) + (m.data.json.empty() ? 0 : 1));
  if (m.request_id) {
    w.key("requestId");
    w.str(*m.request_id);
  }
  if (!m.data.json.empty()) {
    w.key("packet");
    if (!w.value(m.data.json, m.data.attachments, err, "data")) {
      return false;
    }
  }
  w.close_object();
  return true;
}

// message.data, in the member order of the object literal Node builds for `m.type`.
bool write_data(writer& w, const message& m, std::string& err) {
  w.key("data");
  switch (m.type) {
    case message_type::broadcast:
      return write_broadcast(w, m, err);
    case message_type::sockets_join:
    case message_type::sockets_leave:
    case message_type::disconnect_sockets:
      w.open_object(2);
      write_opts(w, m.opts.rooms, m.opts.except, false, std::nullopt);
      if (m.type == message_type::disconnect_sockets) {
        w.key("close");
        w.boolean(m.close);
      } else {
        w.key("rooms");
        w.strings(m.rooms);
      }
      w.close_object();
      return true;
    case message_type::fetch_sockets:
      w.open_object(2);
      write_opts(w, m.opts.rooms, m.opts.except, false, m.timeout_ms);
      w.key("requestId");
      w.str(*m.request_id);
      w.close_object();
      return true;
    case message_type::fetch_sockets_response:
      w.open_object(2);
      w.key("requestId");
      w.str(*m.request_id);
      if (!write_sockets(w, m, err)) {
        return false;
      }
      w.close_object();
      return true;
    case message_type::server_side_emit:
      if (!is_array_text(m.data.json)) {
        err = "data: not a JSON [event, ...args] array";
        return false;
      }
      return write_packet_answer(w, m, err);
    case message_type::server_side_emit_response:
    case message_type::broadcast_ack:
      return write_packet_answer(w, m, err);
    case message_type::broadcast_client_count:
      w.open_object(2);
      w.key("requestId");
      w.str(*m.request_id);
      w.key("clientCount");
      w.uint(m.client_count);
      w.close_object();
      return true;
    default:
      err = "no data for this type";
      return false;
  }
}

}  // namespace

expected<std::string> encode(const message& m) {
  const auto type = static_cast<uint64_t>(m.type);
  if (type < 1 || type > 13) {
    return unexpected("unknown message type " + std::to_string(type));
  }
  if (needs_request_id(m.type) && !m.request_id) {
    return unexpected(std::string("this message needs a requestId"));
  }
  const bool has_data = m.type != message_type::initial_heartbeat &&
                        m.type != message_type::heartbeat && m.type != message_type::adapter_close;
  writer w(sends_msgpack(m));
  w.open_object(has_data ? 4 : 3);
  w.key("type");
  w.uint(type);
  std::string err;
  if (has_data && !write_data(w, m, err)) {
    return unexpected(err);
  }
  w.key("uid");
  w.str(m.uid);
  w.key("nsp");
  w.str(m.nsp);
  w.close_object();
  return w.done();
}

}  // namespace chatd::wire::sharded
