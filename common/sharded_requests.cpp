// The sharded adapter's requests and responses as classic ones (see sharded_requests.h).

#include "common/sharded_requests.h"

namespace chatd::wire::sharded {

std::optional<bus_request> to_request(const message& m) {
  bus_request r;
  r.uid = m.uid;
  r.request_id = m.request_id;
  switch (m.type) {
    case message_type::broadcast:
      if (!m.request_id) return std::nullopt;  // a plain broadcast goes to chat, not here
      r.type = request_type::broadcast;
      r.packet = m.packet;
      r.packet.uid = m.uid;
      r.timeout_ms = m.timeout_ms;
      return r;
    case message_type::sockets_join:
    case message_type::sockets_leave:
      r.type = m.type == message_type::sockets_join ? request_type::remote_join
                                                     : request_type::remote_leave;
      r.opts = m.opts;
      r.rooms = m.rooms;
      return r;
    case message_type::disconnect_sockets:
      r.type = request_type::remote_disconnect;
      r.opts = m.opts;
      r.close = m.close;
      return r;
    case message_type::fetch_sockets:
      r.type = request_type::remote_fetch;
      r.opts = m.opts;
      return r;
    case message_type::server_side_emit:
      r.type = request_type::server_side_emit;
      r.data = m.data;
      return r;
    default:
      return std::nullopt;
  }
}

std::optional<bus_response> to_response(const message& m) {
  bus_response r;
  r.request_id = m.request_id.value_or("");
  switch (m.type) {
    case message_type::fetch_sockets_response:
      r.sockets = m.sockets;
      return r;
    case message_type::server_side_emit_response:
      r.type = request_type::server_side_emit;
      r.data = m.data;
      return r;
    case message_type::broadcast_client_count:
      r.type = request_type::broadcast_client_count;
      r.client_count = m.client_count;
      return r;
    case message_type::broadcast_ack:
      r.type = request_type::broadcast_ack;
      r.packet = m.data;
      return r;
    default:
      return std::nullopt;
  }
}

std::optional<message> answer_message(std::string_view uid, request_type asked,
                                      const bus_response& answer) {
  message m;
  m.uid.assign(uid);
  m.request_id = answer.request_id;
  switch (asked) {
    case request_type::remote_fetch:
      m.type = message_type::fetch_sockets_response;
      if (answer.sockets) m.sockets = *answer.sockets;
      return m;
    case request_type::server_side_emit:
      m.type = message_type::server_side_emit_response;
      m.data = answer.data;
      return m;
    case request_type::broadcast:
      if (answer.type == request_type::broadcast_client_count) {
        m.type = message_type::broadcast_client_count;
        m.client_count = answer.client_count.value_or(0);
      } else {
        m.type = message_type::broadcast_ack;
        m.data = answer.packet;
      }
      return m;
    default:
      return std::nullopt;
  }
}

std::optional<message> request_message(const bus_request& r) {
  message m;
  m.uid = r.uid.value_or("");
  m.request_id = r.request_id;
  static const room_selector every;
  switch (r.type) {
    case request_type::remote_fetch:
      m.type = message_type::fetch_sockets;
      m.opts = r.opts.value_or(every);
      return m;
    case request_type::remote_join:
    case request_type::remote_leave:
      m.type = r.type == request_type::remote_join ? message_type::sockets_join
                                                    : message_type::sockets_leave;
      m.opts = r.opts.value_or(every);
      m.rooms = r.rooms;
      m.request_id.reset();
      return m;
    case request_type::remote_disconnect:
      m.type = message_type::disconnect_sockets;
      m.opts = r.opts.value_or(every);
      m.close = r.close;
      m.request_id.reset();
      return m;
    case request_type::server_side_emit:
      m.type = message_type::server_side_emit;
      m.data = r.data;
      return m;
    case request_type::broadcast:
      m.type = message_type::broadcast;
      m.packet = r.packet;
      m.timeout_ms = r.timeout_ms;
      return m;
    default:
      return std::nullopt;
  }
}

}  // namespace chatd::wire::sharded
