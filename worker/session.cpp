// Engine.IO session + Socket.IO socket on "/": heartbeat, packet rules, chat hand-off.

#include "worker/session.h"

#include "common/engineio.h"
#include "common/log.h"
#include "common/socketio.h"
#include "worker/chat.h"
#include "worker/connection.h"
#include "worker/server.h"

#include <fmt/format.h>

#include <algorithm>

namespace chatd {

session::session(server& srv, connection& conn, std::string query_json, std::string channel,
                  bool has_channel)
    : srv_(srv),
      conn_(&conn),
      eio_sid_(eio::make_sid(srv.slot())),
      query_json_(std::move(query_json)),
      channel_(std::move(channel)),
      has_channel_(has_channel) {
  uv_timer_init(srv_.loop(), &timer_);
  timer_.data = this;
}

bool session::send(const shared_bytes& frame) {
  if (conn_ == nullptr) return false;
  return conn_->send(frame);
}

void session::open() {
  const config& cfg = srv_.cfg();
  std::string packet = eio::open_packet(eio_sid_, /*can_upgrade=*/false, cfg.ping_interval_ms,
                                        cfg.ping_timeout_ms, cfg.max_payload);
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
  uv_timer_start(&timer_, &session::on_timer, due > now ? due - now : 0, 0);
}

void session::on_timer(uv_timer_t* t) {
  auto* s = static_cast<session*>(t->data);
  if (s->ended_) return;
  uint64_t now = uv_now(s->srv_.loop());
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
  log::debug("session {}: closing: {}", eio_sid_, why);
  if (conn_ != nullptr) conn_->close_ws(ws_code, why);
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
  if (binary_expected_ > 0) {
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
      binary_head_.assign(text);
      binary_expected_ = p->attachments;
      binary_parts_.clear();
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
    send(make_text_frame({sio::encode(sio::packet_type::connect_error, nsp,
                                      R"({"message":"Invalid namespace"})")}));
    return;
  }
  if (!has_channel_) {
    send(make_text_frame({sio::encode(
        sio::packet_type::connect_error, "/",
        R"json({"message":"missing channel: connect with io(url, {query: {channel, userId}})"})json")}));
    return;
  }
  sio_sid_ = eio::make_sid(srv_.slot());
  connected_ = true;
  send(make_text_frame({"40{\"sid\":\"", sio_sid_, "\"}"}));
  srv_.gateway().on_connect(*this);
  arm_timer();
}

void session::on_event(std::string_view data, int64_t ack_id) {
  std::optional<sio::event_args> ev = sio::split_event(data);
  if (!ev) return fail(ws::close_code::protocol_error, "malformed EVENT");
  if (ev->name == "message") {
    srv_.gateway().on_message(*this, ev->first_arg);
    if (ack_id >= 0) send(make_text_frame({fmt::format("43{}[]", ack_id)}));
  }
  // Other events have no handler in the seed's gateway: ignored, as socket.io does.
}

void session::on_binary(std::string_view data) {
  if (ended_) return;
  if (binary_expected_ == 0) return fail(ws::close_code::protocol_error, "unexpected binary frame");
  binary_parts_.emplace_back(data);
  if (binary_parts_.size() == binary_expected_) finish_binary();
}

void session::finish_binary() {
  std::optional<sio::packet> p = sio::parse(binary_head_);
  binary_expected_ = 0;
  if (p) {
    std::optional<sio::event_args> ev = sio::split_event(p->data);
    if (ev && ev->name == "message") {
      srv_.gateway().on_binary_message(*this, ev->first_arg, binary_parts_);
      if (p->ack_id >= 0) send(make_text_frame({fmt::format("43{}[]", p->ack_id)}));
    }
  }
  binary_head_.clear();
  binary_parts_.clear();
}

void session::end() {
  if (ended_) return;
  ended_ = true;
  if (connected_) {
    connected_ = false;
    srv_.gateway().on_disconnect(*this);
  }
  conn_ = nullptr;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<session*>(h->data); });
}

}  // namespace chatd
