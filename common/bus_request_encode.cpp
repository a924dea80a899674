// The request channel encoder: chatd's answers to a Node peer's requests and chatd's own
// requests, byte for byte as @socket.io/redis-adapter 8.3 publishes them (dist/index.js):
// JSON.stringify for every request and answer but two, which go through the parser (notepack):
// the BROADCAST request (broadcastWithAck) and the BROADCAST_ACK answer (onrequest, type 7),
// so acks may carry Buffers. Field order is the order of the object literals in that source.
//
// Opaque JSON (handshake parts, socket data, arguments) is printed as
// JSON.stringify(JSON.parse(text)) would: parsed and written to msgpack by the broadcast encoder,
// rendered back by the broadcast decoder. So it is validated by the same code, and its key order,
// numbers and escapes equal a Node server's.

#include "common/bus_request.h"

#include "common/bus_fields.h"
#include "common/bus_msgpack.h"
#include "common/json_text.h"
#include "common/msgpack_writer.h"

#include <string>
#include <vector>

namespace chatd::wire {

namespace {

using detail::append_canonical_json;

// A small JSON object writer: `{"k":v,...}` in the order the members are added.
class json_object {
 public:
  json_object() { out_ += '{'; }
  json_object& key(std::string_view k) {
    if (!first_) {
      out_ += ',';
    }
    first_ = false;
    append_json_string(out_, k);
    out_ += ':';
    return *this;
  }
  json_object& str(std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out_, v);
    return *this;
  }
  json_object& num(std::string_view k, uint64_t v) {
    key(k);
    detail::append_decimal(out_, v);
    return *this;
  }
  json_object& boolean(std::string_view k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  json_object& strings(std::string_view k, const std::vector<std::string>& items) {
    key(k);
    append_strings(items);
    return *this;
  }
  json_object& selector(const room_selector& s) {
    key("opts");
    out_ += "{\"rooms\":";
    append_strings(s.rooms);
    out_ += ",\"except\":";
    append_strings(s.except);
    out_ += '}';
    return *this;
  }
  // An opaque member; "" is undefined, which JSON.stringify leaves out.
  bool json(std::string_view k, std::string_view text, std::string& err) {
    if (text.empty()) {
      return true;
    }
    key(k);
    return append_canonical_json(out_, text, err, k);
  }
  std::string& raw() { return out_; }
  std::string done() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void append_strings(const std::vector<std::string>& items) {
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        out_ += ',';
      }
      append_json_string(out_, items[i]);
    }
    out_ += ']';
  }

  std::string out_;
  bool first_ = true;
};

// socket.io's buildHandshake order: headers, time, address, xdomain, secure, issued, url, query,
// auth (the adapter only drops sessionStore).
bool append_handshake(json_object& o, const handshake& h, std::string& err) {
  json_object hs;
  if (!hs.json("headers", h.headers_json, err)) {
    return false;
  }
  hs.str("time", h.time).str("address", h.address).boolean("xdomain", h.xdomain);
  hs.boolean("secure", h.secure).num("issued", h.issued);
  if (h.url) {
    hs.str("url", *h.url);
  }
  if (!hs.json("query", h.query_json, err) || !hs.json("auth", h.auth_json, err)) {
    return false;
  }
  o.key("handshake").raw() += hs.done();
  return true;
}

uint64_t type_number(request_type t) { return static_cast<uint64_t>(t); }

expected<std::string> encode_broadcast_request(const bus_request& r) {
  if (!r.uid || !r.request_id) {
    return unexpected(std::string("a BROADCAST request needs a uid and a requestId"));
  }
  std::string out;
  msgpack_writer w(out);
  w.map_header(5);
  w.str("uid");
  w.str(*r.uid);
  w.str("requestId");
  w.str(*r.request_id);
  w.str("type");
  w.uint(type_number(r.type));
  w.str("packet");
  std::string err;
  if (!detail::write_packet(w, r.packet, err)) {
    return unexpected("packet: " + err);
  }
  w.str("opts");
  if (!detail::write_opts(w, r.packet, r.timeout_ms, err)) {
    return unexpected("opts: " + err);
  }
  return out;
}

}  // namespace

expected<std::string> encode_sockets_response(std::string_view request_id,
                                              const std::vector<std::string>& socket_ids) {
  return json_object().str("requestId", request_id).strings("sockets", socket_ids).done();
}

expected<std::string> encode_all_rooms_response(std::string_view request_id,
                                                const std::vector<std::string>& rooms) {
  return json_object().str("requestId", request_id).strings("rooms", rooms).done();
}

expected<std::string> encode_fetch_response(std::string_view request_id,
                                            const std::vector<remote_socket>& sockets) {
  json_object o;
  o.str("requestId", request_id).key("sockets").raw() += '[';
  std::string err;
  for (size_t i = 0; i < sockets.size(); ++i) {
    const remote_socket& s = sockets[i];
    json_object so;
    so.str("id", s.id);
    if (!append_handshake(so, s.hs, err)) {
      return unexpected("sockets[" + std::to_string(i) + "]." + err);
    }
    so.strings("rooms", s.rooms);
    if (!so.json("data", s.data_json, err)) {
      return unexpected("sockets[" + std::to_string(i) + "]." + err);
    }
    if (i > 0) {
      o.raw() += ',';
    }
    o.raw() += so.done();
  }
  o.raw() += ']';
  return o.done();
}

expected<std::string> encode_done_response(std::string_view request_id) {
  return json_object().str("requestId", request_id).done();
}

expected<std::string> encode_server_side_emit_ack(std::string_view request_id,
                                                  std::string_view ack_json) {
  json_object o;
  o.num("type", type_number(request_type::server_side_emit)).str("requestId", request_id);
  std::string err;
  if (!o.json("data", ack_json, err)) {
    return unexpected(err);
  }
  return o.done();
}

expected<std::string> encode_broadcast_client_count(std::string_view request_id,
                                                    uint64_t client_count) {
  return json_object()
      .num("type", type_number(request_type::broadcast_client_count))
      .str("requestId", request_id)
      .num("clientCount", client_count)
      .done();
}

expected<std::string> encode_broadcast_ack(std::string_view request_id, const json_value& packet) {
  std::string out;
  msgpack_writer w(out);
  // notepack leaves out a member whose value is undefined (the client acked with no argument).
  w.map_header(packet.json.empty() ? 2 : 3);
  w.str("type");
  w.uint(type_number(request_type::broadcast_ack));
  w.str("requestId");
  w.str(request_id);
  if (!packet.json.empty()) {
    w.str("packet");
    auto root = detail::parse_js_json(packet.json);
    std::string err;
    if (!root) {
      return unexpected("packet: " + root.error());
    }
    if (!detail::write_json_value(w, *root, err, packet.attachments)) {
      return unexpected("packet: " + err);
    }
  }
  return out;
}

expected<std::string> encode_request(const bus_request& r) {
  if (r.type == request_type::broadcast) {
    return encode_broadcast_request(r);
  }
  if (!r.uid) {
    return unexpected(std::string("a request from chatd needs a uid"));
  }
  json_object o;
  o.str("uid", *r.uid);
  auto with_id = [&]() -> bool {
    if (r.request_id) {
      o.str("requestId", *r.request_id);
    }
    return r.request_id.has_value();
  };
  std::string err;
  switch (r.type) {
    case request_type::sockets:
    case request_type::all_rooms:
    case request_type::remote_fetch:
      if (!with_id()) {
        return unexpected(std::string("this request needs a requestId"));
      }
      o.num("type", type_number(r.type));
      if (r.type == request_type::sockets) {
        o.strings("rooms", r.rooms);
      } else if (r.type == request_type::remote_fetch) {
        o.selector(r.opts.value_or(room_selector{}));
      }
      return o.done();
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect:
      if (!r.opts) {
        return unexpected(std::string("chatd sends join/leave/disconnect with opts only"));
      }
      o.num("type", type_number(r.type)).selector(*r.opts);
      if (r.type == request_type::remote_disconnect) {
        o.boolean("close", r.close);
      } else {
        o.strings("rooms", r.rooms);
      }
      return o.done();
    case request_type::server_side_emit:
      with_id();
      o.num("type", type_number(r.type));
      if (!o.json("data", r.data.json, err)) {
        return unexpected(err);
      }
      // The canonical text of an array, and only of an array, ends in ']'.
      if (!r.data.attachments.empty() || r.data.json.empty() || o.raw().back() != ']') {
        // JSON.stringify turns a Buffer into {type:"Buffer",data:[...]}: no Buffer crosses as one.
        return unexpected(std::string("data must be a JSON [event, ...args] array without binary"));
      }
      return o.done();
    default:
      return unexpected("type " + std::to_string(type_number(r.type)) + " is not a request chatd sends");
  }
}

}  // namespace chatd::wire
