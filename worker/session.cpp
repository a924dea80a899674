// Engine.IO session + Socket.IO socket on "/": heartbeat, packet rules, chat hand-off.

#include "worker/session.h"

#include "common/base64.h"
#include "common/engineio.h"
#include "common/log.h"
#include "common/socketio.h"
#include "worker/chat.h"
#include "worker/connection.h"
#include "worker/poll_payload.h"
#include "worker/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace chatd {

session::session(server& srv, connection* ws, std::string query_json, std::string channel,
                  bool has_channel)
    : srv_(srv),
      conn_(ws),
      query_json_(std::move(query_json)),
      channel_(std::move(channel)),
      has_channel_(has_channel) {
  std::string sid = eio::make_sid(srv.slot());
  std::memcpy(eio_sid_.data(), sid.data(), eio_sid_.size());
  query_json_.shrink_to_fit();
}

bool session::send(const shared_bytes& frame) {
  if (conn_ != nullptr) return conn_->send(frame);
  if (ended_ || doomed_) return false;
  size_t n = frame->size();
  if (pending_bytes_ + n > srv_.cfg().max_backpressure && pending_bytes_ > 0) {
    srv_.stats().dropped_slow_total.fetch_add(1, std::memory_order_relaxed);
    log::info("dropping a polling client: {} bytes pending exceed max_backpressure {}",
              pending_bytes_ + n, srv_.cfg().max_backpressure);
    // This may run inside a broadcast walking our room: end from the timer instead.
    doomed_ = true;
    srv_.timers().schedule(*this, uv_now(srv_.loop()));
    return false;
  }
  pending_.push_back(frame);
  pending_bytes_ += n;
  if (poll_conn_ != nullptr) poll_conn_->wake();
  return true;
}

bool session::attach_poll(connection& c) {
  if (poll_conn_ != nullptr && poll_conn_ != &c) {
    log::debug("session {}: overlapping GET", eio_sid());
    end();  // the held GET gets the close packet
    return false;
  }
  poll_conn_ = &c;
  if (poll_ready()) c.wake();
  return true;
}

std::string session::take_poll_payload() {
  poll_conn_ = nullptr;
  if (pending_.empty()) return std::string(1, static_cast<char>(eio::packet_type::noop));
  std::string out;
  out.reserve(pending_bytes_);
  append_poll_payload(out, pending_);
  pending_.clear();
  pending_bytes_ = 0;
  if (pending_.capacity() > 16) pending_.shrink_to_fit();
  return out;
}

void session::poll_closed(connection& c) {
  if (poll_conn_ != &c) return;
  poll_conn_ = nullptr;
  log::debug("session {}: poll connection closed prematurely", eio_sid());
  end();
}

void session::on_poll_data(std::string_view payload) {
  eio::for_each_packet(payload, [&](std::string_view p) {
    if (ended_ || !polling()) return;
    if (!p.empty() && p[0] == 'b') {
      std::optional<std::string> bytes = base64::decode(p.substr(1));
      if (!bytes) return fail(ws::close_code::protocol_error, "bad base64 packet");
      return on_binary(*bytes);
    }
    on_text(p);
  });
}

bool session::begin_upgrade(connection& ws) {
  // A doomed session (dropped for backpressure, ended at the next timer tick) takes no new
  // transport: the client reconnects.
  if (!polling() || probe_ != nullptr || doomed_) return false;
  probe_ = &ws;
  upgrade_deadline_ = uv_now(srv_.loop()) + srv_.cfg().upgrade_timeout_ms;
  arm_timer();
  return true;
}

void session::on_probe_text(connection& ws, std::string_view packet) {
  if (&ws != probe_ || ended_) return;
  if (doomed_) {
    probe_ = nullptr;
    probed_ = false;
    ws.detach_session();
    ws.close_ws(ws::close_code::normal);
    return;
  }
  if (packet == "2probe") {
    ws.send(make_text_frame({"3probe"}));
    probed_ = true;
    // The held GET returns (a noop if nothing else) so the client can pause polling; a GET that
    // arrives from now on is answered at once, for the same reason.
    if (poll_conn_ != nullptr) poll_conn_->wake();
    return;
  }
  if (packet == "5") return finish_upgrade();
  log::debug("session {}: unexpected packet during the upgrade: closing the probe", eio_sid());
  probe_ = nullptr;
  probed_ = false;
  ws.detach_session();
  ws.close_ws(ws::close_code::normal);
  arm_timer();
}

void session::finish_upgrade() {
  connection* ws = probe_;
  probe_ = nullptr;
  probed_ = false;
  if (poll_conn_ != nullptr) {
    connection* held = poll_conn_;
    poll_conn_ = nullptr;
    held->answer_poll(std::string(1, static_cast<char>(eio::packet_type::noop)));
  }
  conn_ = ws;
  ws->promote_session();
  // What polling had not delivered yet goes first on the WebSocket, in order: nothing is lost
  // or sent twice across the switch.
  std::vector<shared_bytes> rest;
  rest.swap(pending_);
  pending_bytes_ = 0;
  for (const shared_bytes& f : rest) {
    if (!conn_->send(f)) break;
  }
  log::debug("session {}: upgraded to websocket", eio_sid());
  arm_timer();
}

void session::probe_closed(connection& ws) {
  if (probe_ != &ws) return;
  probe_ = nullptr;
  probed_ = false;
  arm_timer();
}

void session::open() {
  const config& cfg = srv_.cfg();
  srv_.add_session(*this);
  std::string packet = eio::open_packet(eio_sid(), /*can_upgrade=*/conn_ == nullptr,
                                        cfg.ping_interval_ms, cfg.ping_timeout_ms,
                                        cfg.max_payload);
  send(make_text_frame({packet}));
  uint64_t now = uv_now(srv_.loop());
  next_ping_at_ = now + cfg.ping_interval_ms;
  connect_deadline_ = now + cfg.connect_timeout_ms;
  arm_timer();
}

void session::arm_timer() {
  uint64_t now = uv_now(srv_.loop());
  uint64_t due = awaiting_pong_ ? pong_deadline_ : next_ping_at_;
  if (!connected_) due = std::min(due, connect_deadline_);
  if (probe_ != nullptr) due = std::min(due, upgrade_deadline_);
  if (doomed_) due = now;
  srv_.timers().schedule(*this, due);
}

void session::timer_fired(timer_node& node, void*) { static_cast<session&>(node).on_timer(); }

void session::on_timer() {
  session* s = this;
  if (s->ended_) return;
  if (s->doomed_) return s->end();
  uint64_t now = uv_now(s->srv_.loop());
  if (s->probe_ != nullptr && now >= s->upgrade_deadline_) {
    log::debug("session {}: upgrade timeout", s->eio_sid());
    connection* probe = s->probe_;
    s->probe_ = nullptr;
    s->probed_ = false;
    probe->detach_session();
    probe->close_ws(ws::close_code::normal);
  }
  if (!s->connected_ && now >= s->connect_deadline_) {
    // As socket.io's connectTimeout: no namespace joined in time.
    return s->fail(ws::close_code::normal, "connect timeout");
  }
  if (s->awaiting_pong_) {
    if (now >= s->pong_deadline_) return s->fail(ws::close_code::normal, "ping timeout");
  } else if (now >= s->next_ping_at_) {
    s->send(s->srv_.ping_frame());
    s->awaiting_pong_ = true;
    s->pong_deadline_ = now + s->srv_.cfg().ping_timeout_ms;
  }
  s->arm_timer();
}

void session::fail(uint16_t ws_code, std::string_view why) {
  log::debug("session {}: closing: {}", eio_sid(), why);
  if (conn_ != nullptr) return conn_->close_ws(ws_code, why);
  end();  // polling: a held GET gets the close packet
}

void session::on_text(std::string_view packet) {
  if (ended_) return;
  if (packet.empty()) return fail(ws::close_code::protocol_error, "empty packet");
  switch (static_cast<eio::packet_type>(packet[0])) {
    case eio::packet_type::message:
      return on_socketio(packet.substr(1));
    case eio::packet_type::pong:
      if (awaiting_pong_) {
        awaiting_pong_ = false;
        next_ping_at_ = uv_now(srv_.loop()) + srv_.cfg().ping_interval_ms;
        arm_timer();
      }
      return;
    case eio::packet_type::close:
      if (polling() && poll_conn_ != nullptr) {
        // As engine.io's polling onClose: the pending GET returns a noop.
        connection* held = poll_conn_;
        poll_conn_ = nullptr;
        held->answer_poll(std::string(1, static_cast<char>(eio::packet_type::noop)));
      }
      return fail(ws::close_code::normal, "client closed");
    case eio::packet_type::noop:
      return;
    case eio::packet_type::ping:
      // Engine.IO v4 servers ping, clients answer; a client ping is an error.
      return fail(ws::close_code::protocol_error, "invalid heartbeat direction");
    default:
      return fail(ws::close_code::protocol_error, "parse error");
  }
}

void session::on_socketio(std::string_view text) {
  if (binary_) {
    return fail(ws::close_code::protocol_error, "text packet while binary attachments pending");
  }
  std::string why;
  std::optional<sio::packet> p = sio::parse(text, &why);
  if (!p) return fail(ws::close_code::protocol_error, fmt::format("bad Socket.IO packet: {}", why));

  bool for_us = p->nsp == "/";
  switch (p->type) {
    case sio::packet_type::connect:
      if (for_us && connected_) return fail(ws::close_code::protocol_error, "CONNECT twice");
      return on_connect_packet(p->nsp);
    case sio::packet_type::event:
      if (!for_us || !connected_) return fail(ws::close_code::protocol_error, "EVENT before CONNECT");
      return on_event(p->data, p->ack_id);
    case sio::packet_type::binary_event:
      if (!for_us || !connected_) return fail(ws::close_code::protocol_error, "EVENT before CONNECT");
      if (p->attachments == 0) return on_event(p->data, p->ack_id);
      binary_ = std::make_unique<binary_state>();
      binary_->head.assign(text);
      binary_->expected = p->attachments;
      return;
    case sio::packet_type::ack:
    case sio::packet_type::binary_ack:
      // The server never asks the client for acks; tolerate and ignore as socket.io does for
      // unknown ack ids.
      if (!for_us || !connected_) return fail(ws::close_code::protocol_error, "ACK before CONNECT");
      return;
    case sio::packet_type::disconnect:
      if (!for_us || !connected_) return fail(ws::close_code::protocol_error, "DISCONNECT before CONNECT");
      connected_ = false;
      srv_.gateway().on_disconnect(*this);
      connect_deadline_ = uv_now(srv_.loop()) + srv_.cfg().connect_timeout_ms;
      arm_timer();
      return;
    case sio::packet_type::connect_error:
      return fail(ws::close_code::protocol_error, "CONNECT_ERROR from a client");
  }
}

void session::on_connect_packet(std::string_view nsp) {
  if (nsp != "/") {
    send(make_text_frame({sio::encode_connect_error(nsp, "Invalid namespace")}));
    return;
  }
  if (!has_channel_) {
    send(make_text_frame({sio::encode_connect_error(
        "/", "missing channel: connect with io(url, {query: {channel, userId}})")}));
    return;
  }
  std::string sid = eio::make_sid(srv_.slot());
  std::memcpy(sio_sid_.data(), sid.data(), sio_sid_.size());
  has_sio_sid_ = true;
  connected_ = true;
  srv_.gateway().on_connect(*this);  // answers the CONNECT, maybe after the room's subscription
  arm_timer();
}

void session::send_connect_reply() { send(make_text_frame({sio::connect_reply_head, sio_sid(), sio::connect_reply_tail})); }

void session::on_event(std::string_view data, int64_t ack_id) {
  std::optional<sio::event_args> ev = sio::split_event(data);
  if (!ev) return fail(ws::close_code::protocol_error, "malformed EVENT");
  if (ev->name == "message") {
    srv_.gateway().on_message(*this, ev->first_arg);
    if (ack_id >= 0) send(make_text_frame({sio::encode_empty_ack(ack_id)}));
  }
  // Other events have no handler in the seed's gateway: ignored, as socket.io does.
}

void session::on_binary(std::string_view data) {
  if (ended_) return;
  if (!binary_) return fail(ws::close_code::protocol_error, "unexpected binary frame");
  binary_->parts.emplace_back(data);
  if (binary_->parts.size() == binary_->expected) finish_binary();
}

void session::finish_binary() {
  std::unique_ptr<binary_state> b = std::move(binary_);
  std::optional<sio::packet> p = sio::parse(b->head);
  if (p && !sio::valid_placeholders(p->data, b->parts.size())) {
    // As the reference decoder: the sender's packet is illegal, the sender goes (relaying it
    // would make every receiving socket.io-client fail to decode it).
    return fail(ws::close_code::protocol_error, "illegal attachments");
  }
  if (p) {
    std::optional<sio::event_args> ev = sio::split_event(p->data);
    if (ev && ev->name == "message") {
      srv_.gateway().on_binary_message(*this, ev->first_arg, std::move(b->parts));
      if (p->ack_id >= 0) send(make_text_frame({sio::encode_empty_ack(p->ack_id)}));
    }
  }
}

void session::end() {
  if (ended_) return;
  ended_ = true;
  if (connected_) {
    connected_ = false;
    srv_.gateway().on_disconnect(*this);
  }
  if (conn_ != nullptr) {
    // The connection must not keep a pointer to a session freed at the next prepare. When the
    // connection's own close ended us this only detaches (it is closing already); when the
    // session ended on its own (a doomed session after an upgrade) the connection closes too.
    connection* c = conn_;
    conn_ = nullptr;
    c->detach_session();
    c->close_ws(ws::close_code::normal);
  }
  srv_.remove_session(*this);
  if (poll_conn_ != nullptr) {
    connection* held = poll_conn_;
    poll_conn_ = nullptr;
    std::string payload;
    append_poll_payload(payload, pending_);
    if (!payload.empty()) payload.push_back(eio::record_separator);
    payload.push_back(static_cast<char>(eio::packet_type::close));
    held->answer_poll(payload);
  }
  pending_.clear();
  if (probe_ != nullptr) {
    connection* probe = probe_;
    probe_ = nullptr;
    probed_ = false;
    probe->detach_session();
    probe->close_ws(ws::close_code::normal);
  }
  srv_.timers().cancel(*this);
  srv_.free_later(*this);
}

}  // namespace chatd
