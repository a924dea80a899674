// Engine.IO session + its Socket.IO sockets: heartbeat, packet rules, the hand-off to each
// namespace's application.

#include "worker/session.h"

#include "common/base64.h"
#include "common/engineio.h"
#include "common/log.h"
#include "common/socketio.h"
#include "common/assert.h"
#include "worker/app.h"
#include "worker/connect_auth.h"
#include "worker/namespace_table.h"
#include "worker/session_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace chatd {

session& session::create(session_context& ctx, transport* ws, std::string query_json,
                         std::string channel, bool has_channel, handshake_record hs,
                         bool raw_echo) {
  std::unique_ptr<session> owned(new session(ctx, ws, std::move(query_json), std::move(channel),
                                             has_channel, std::move(hs), raw_echo));
  session& s = ctx.registry.add(std::move(owned));
  s.open();
  return s;
}

session::session(session_context& ctx, transport* ws, std::string query_json, std::string channel,
                  bool has_channel, handshake_record hs, bool raw_echo)
    : ctx_(ctx),
      conn_(ws),
      poll_(ws == nullptr ? std::make_unique<poll_transport>(*this, ctx.cfg.max_backpressure,
                                                                  ctx.output)
                          : nullptr),
      query_json_(std::move(query_json)),
      channel_(std::move(channel)),
      has_channel_(has_channel),
      hs_(std::move(hs)),
      raw_echo_(raw_echo) {
  if (poll_) conn_ = poll_.get();
  std::string sid = eio::make_sid(ctx.slot);
  std::memcpy(eio_sid_.data(), sid.data(), eio_sid_.size());
  query_json_.shrink_to_fit();
}

session::~session() {
  // Freed by the registry after end(), or live at worker exit: no timer may point at us.
  if (scheduled()) ctx_.timers.cancel(*this);
  for (const auto& sock : sockets_) {
    CHATD_ASSERT(!sock->joined(), "a session freed while an application still holds its socket");
  }
  CHATD_ASSERT(state_ == state::closed || (conn_ == nullptr && probe_ == nullptr),
               "a session freed while a connection still points at it");
}

void session::set_state(state next) {
  // The transitions of the header's table; anything else is a bug in the caller.
  bool ok = false;
  switch (state_) {
    case state::handshaking:
      ok = next == state::connected || next == state::closing || next == state::closed;
      break;
    case state::connected:
      ok = next == state::handshaking || next == state::closing || next == state::closed;
      break;
    case state::closing:
      ok = next == state::closed;
      break;
    case state::closed:
      ok = false;
      break;
  }
  CHATD_ASSERT(ok, "session state transition not in the table");
  state_ = next;
}

bool session::send(const shared_bytes& frame) {
  if (conn_ == nullptr || doomed_) return false;
  return conn_->send(frame);
}

session::transport_kind session::current_transport() const {
  if (conn_ == nullptr) return transport_kind::none;
  if (conn_ != poll_.get()) return transport_kind::websocket;
  return probe_ != nullptr ? transport_kind::upgrading : transport_kind::polling;
}

void session::transport_overflow(transport& t) {
  CHATD_ASSERT(&t == conn_, "an overflow from a transport that carries another session");
  ctx_.stats.dropped_slow_total.fetch_add(1, std::memory_order_relaxed);
  doom();
}

void session::output_budget_exceeded(transport& t) {
  CHATD_ASSERT(&t == conn_, "an output budget drop of a transport that carries another session");
  ctx_.stats.output_budget_dropped_total.fetch_add(1, std::memory_order_relaxed);
  doom();
}

void session::doom() {
  doomed_ = true;
  ctx_.timers.schedule(*this, uv_now(ctx_.loop));
}

poll_transport* session::attach_poll(held_get& g) {
  if (!polling()) return nullptr;
  if (!poll_->hold(g)) {
    log::debug("session {}: overlapping GET", eio_sid());
    end();  // the held GET gets the close packet
    return nullptr;
  }
  return poll_.get();
}

void session::on_poll_data(std::string_view payload) {
  eio::for_each_packet(payload, [&](std::string_view p) {
    if (state_ >= state::closing || !polling()) return;
    if (!p.empty() && p[0] == 'b') {
      std::optional<std::string> bytes = base64::decode(p.substr(1));
      if (!bytes) return fail(ws::close_code::protocol_error, "bad base64 packet");
      return on_binary(*bytes);
    }
    on_text(p);
  });
}

bool session::begin_upgrade(transport& ws) {
  // A doomed session (dropped for backpressure, ended at the next timer tick) takes no new
  // transport: the client reconnects.
  if (!polling() || probe_ != nullptr || doomed_) return false;
  probe_ = &ws;
  upgrade_deadline_ = uv_now(ctx_.loop) + ctx_.cfg.upgrade_timeout_ms;
  arm_timer();
  return true;
}

void session::on_ws_message(transport& t, bool text, std::string_view payload) {
  // A pong after its deadline is too late, though the wheel has not fired yet: as engine.io.
  if (expire_if_overdue()) return;
  if (&t == probe_) {
    if (!text) {
      drop_probe();
      arm_timer();
      return;
    }
    return on_probe_text(payload);
  }
  CHATD_ASSERT(&t == conn_, "a message from a transport that carries another session");
  if (text) return on_text(payload);
  on_binary(payload);
}

void session::transport_gone(transport& t) {
  if (&t == probe_) {
    probe_ = nullptr;
    if (poll_) poll_->answer_at_once(false);
    arm_timer();
    return;
  }
  CHATD_ASSERT(&t == conn_, "transport_gone from a transport that carries another session");
  if (&t == poll_.get()) log::debug("session {}: poll connection closed prematurely", eio_sid());
  conn_ = nullptr;  // gone already: end() must not release or close it
  end();
}

void session::drop_probe() {
  transport* probe = probe_;
  probe_ = nullptr;
  if (poll_) poll_->answer_at_once(false);
  probe->release();
  probe->close(ws::close_code::normal, {});
}

void session::on_probe_text(std::string_view packet) {
  if (state_ == state::closed) return;
  if (doomed_) return drop_probe();
  if (packet == "2probe") {
    probe_->send(make_text_frame({"3probe"}));
    // The held GET returns (a noop if nothing else) so the client can pause polling; a GET that
    // arrives from now on is answered at once, for the same reason.
    poll_->answer_at_once(true);
    return;
  }
  if (packet == "5") return finish_upgrade();
  log::debug("session {}: unexpected packet during the upgrade: closing the probe", eio_sid());
  drop_probe();
  arm_timer();
}

void session::finish_upgrade() {
  transport* ws = probe_;
  probe_ = nullptr;
  poll_->answer_noop();
  // What polling had not delivered yet goes first on the WebSocket, in order: nothing is lost
  // or sent twice across the switch.
  std::vector<shared_bytes> rest = poll_->take_pending();
  // The probe already carries this session: from now on it is the session's transport. No GET
  // holds the polling transport any more (answered just above), so it can go.
  conn_ = ws;
  poll_.reset();
  for (const shared_bytes& f : rest) {
    if (!conn_->send(f)) break;
  }
  log::debug("session {}: upgraded to websocket", eio_sid());
  arm_timer();
}

void session::open() {
  const config& cfg = ctx_.cfg;
  std::string packet = eio::open_packet(eio_sid(), /*can_upgrade=*/polling(),
                                        cfg.ping_interval_ms, cfg.ping_timeout_ms,
                                        cfg.max_payload);
  send(make_text_frame({packet}));
  uint64_t now = uv_now(ctx_.loop);
  next_ping_at_ = now + cfg.ping_interval_ms;
  connect_deadline_ = now + cfg.connect_timeout_ms;
  arm_timer();
}

void session::arm_timer() {
  uint64_t now = uv_now(ctx_.loop);
  uint64_t due = awaiting_pong_ ? pong_deadline_ : next_ping_at_;
  if (state_ != state::connected && !raw_echo_) due = std::min(due, connect_deadline_);
  if (probe_ != nullptr) due = std::min(due, upgrade_deadline_);
  if (doomed_) due = now;
  ctx_.timers.schedule(*this, due);
}

void session::timer_fired(timer_node& node, void*) noexcept { static_cast<session&>(node).on_timer(); }

void session::on_timer() {
  session* s = this;
  if (s->state_ == state::closed) return;
  if (s->doomed_) return s->end();
  uint64_t now = uv_now(s->ctx_.loop);
  if (s->probe_ != nullptr && now >= s->upgrade_deadline_) {
    log::debug("session {}: upgrade timeout", s->eio_sid());
    s->drop_probe();
  }
  if (s->state_ == state::handshaking && !s->raw_echo_ && now >= s->connect_deadline_) {
    // As socket.io's connectTimeout: no namespace joined in time.
    return s->fail(ws::close_code::normal, "connect timeout");
  }
  if (s->awaiting_pong_) {
    if (now >= s->pong_deadline_) return s->fail(ws::close_code::normal, "ping timeout");
  } else if (now >= s->next_ping_at_) {
    s->send(s->ctx_.ping_frame);
    s->awaiting_pong_ = true;
    s->pong_deadline_extended_ = false;
    // The pong is due ping_timeout after the ping was due, not after the wheel fired (up to a
    // tick late): the session ends at ping_interval + ping_timeout, as engine.io's two timers end
    // it. A ping later than that (a stalled loop) still gives the client all of ping_timeout.
    const uint64_t sent = now - s->next_ping_at_ <= s->ctx_.timers.tick_ms() ? s->next_ping_at_ : now;
    s->pong_deadline_ = sent + s->ctx_.cfg.ping_timeout_ms;
  }
  s->arm_timer();
}

bool session::expire_if_overdue() {
  if (state_ < state::closing && awaiting_pong_ && uv_now(ctx_.loop) >= pong_deadline_) {
    fail(ws::close_code::normal, "ping timeout");
  }
  return state_ >= state::closing;
}

void session::fail(uint16_t ws_code, std::string_view why) {
  log::debug("session {}: closing: {}", eio_sid(), why);
  if (state_ >= state::closing) return;
  if (conn_ != nullptr && !polling()) {
    // The connection's close ends the session (end()); until then nothing more is read.
    set_state(state::closing);
    return conn_->close(ws_code, why);
  }
  end();  // polling: a held GET gets the close packet
}

void session::on_text(std::string_view packet) {
  if (state_ >= state::closing) return;
  if (packet.empty()) return fail(ws::close_code::protocol_error, "empty packet");
  if (awaiting_pong_ && !pong_deadline_extended_ &&
      static_cast<eio::packet_type>(packet[0]) != eio::packet_type::pong) {
    // As engine.io (6.6): a client that keeps sending is alive, its pong may be stuck behind
    // its own data: the deadline moves once per ping, by ping_timeout. A client that never
    // reads sees no ping to answer and still goes (README "Slow consumers").
    pong_deadline_ = uv_now(ctx_.loop) + ctx_.cfg.ping_timeout_ms;
    pong_deadline_extended_ = true;
  }
  switch (static_cast<eio::packet_type>(packet[0])) {
    case eio::packet_type::message:
      if (raw_echo_) return echo_back(true, packet);
      return on_socketio(packet.substr(1));
    case eio::packet_type::pong:
      if (awaiting_pong_) {
        awaiting_pong_ = false;
        next_ping_at_ = uv_now(ctx_.loop) + ctx_.cfg.ping_interval_ms;
        arm_timer();
      }
      return;
    case eio::packet_type::close:
      // As engine.io's polling onClose: the pending GET returns a noop.
      if (polling()) poll_->answer_noop();
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

  if (p->type == sio::packet_type::connect) {
    if (socket(p->nsp) != nullptr) return fail(ws::close_code::protocol_error, "CONNECT twice");
    return on_connect_packet(p->nsp, p->data);
  }
  if (p->type == sio::packet_type::connect_error) {
    return fail(ws::close_code::protocol_error, "CONNECT_ERROR from a client");
  }
  // Everything else belongs to a socket that has joined its namespace; as the reference
  // server, a packet for any other namespace is the client's error.
  sio_socket* sock = socket(p->nsp);
  switch (p->type) {
    case sio::packet_type::event:
      if (sock == nullptr) return fail(ws::close_code::protocol_error, "EVENT before CONNECT");
      return on_event(*sock, p->data, p->ack_id);
    case sio::packet_type::binary_event:
      if (sock == nullptr) return fail(ws::close_code::protocol_error, "EVENT before CONNECT");
      if (p->attachments == 0) return on_event(*sock, p->data, p->ack_id);
      binary_ = std::make_unique<binary_state>();
      binary_->head.assign(text);
      binary_->expected = p->attachments;
      return;
    case sio::packet_type::ack:
    case sio::packet_type::binary_ack:
      // The answer to a packet the server sent with an ack id (a broadcast with acks from
      // another node); the application knows the ids it is waiting for and ignores others, as
      // socket.io does.
      if (sock == nullptr) return fail(ws::close_code::protocol_error, "ACK before CONNECT");
      if (p->ack_id < 0) return fail(ws::close_code::protocol_error, "ACK without an id");
      if (p->type == sio::packet_type::binary_ack && p->attachments > 0) {
        binary_ = std::make_unique<binary_state>();
        binary_->type = sio::packet_type::binary_ack;
        binary_->head.assign(text);
        binary_->expected = p->attachments;
        return;
      }
      return sock->ns().application->on_ack(*sock, p->ack_id, p->data, {});
    case sio::packet_type::disconnect:
      if (sock == nullptr) return fail(ws::close_code::protocol_error, "DISCONNECT before CONNECT");
      return leave_namespace(*sock);
    case sio::packet_type::connect:
    case sio::packet_type::connect_error:
      return;  // answered above
  }
}

sio_socket* session::socket(std::string_view nsp) {
  for (const auto& sock : sockets_) {
    if (sock->joined() && sock->nsp() == nsp) return sock.get();
  }
  return nullptr;
}

std::string_view session::sio_sid() const {
  for (const auto& sock : sockets_) {
    if (sock->joined() && sock->nsp() == "/") return sock->id();
  }
  return {};
}

void session::leave_namespace(sio_socket& s) {
  s.leave();
  socket_left(s);
}

void session::socket_left(sio_socket& s) {
  s.leave();  // a noop when the caller (leave_namespace) did it
  for (const auto& sock : sockets_) {
    if (sock->joined()) return;
  }
  if (state_ != state::connected) return;
  set_state(state::handshaking);
  connect_deadline_ = uv_now(ctx_.loop) + ctx_.cfg.connect_timeout_ms;
  arm_timer();
}

void session::sweep_sockets() {
  std::erase_if(sockets_, [](const std::unique_ptr<sio_socket>& s) { return !s->joined(); });
}

void session::count_rate_dropped() {
  ctx_.stats.limit_rate_dropped_total.fetch_add(1, std::memory_order_relaxed);
}

void session::on_connect_packet(std::string_view nsp, std::string_view auth) {
  const namespace_entry* ns = ctx_.namespaces.find(nsp);
  if (ns == nullptr) {
    send(make_text_frame({sio::encode_connect_error(nsp, "Invalid namespace")}));
    return;
  }
  std::string user_id;
  if (ns->auth) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    auto user = authenticate_connect(ctx_.cfg.auth, ctx_.stats, auth, query_json_, channel_,
                                     std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    if (!user) {
      // As a Socket.IO middleware's next(err): the socket stays out and may CONNECT again.
      send(make_text_frame({unauthorized_packet(ns->name, user.error())}));
      return;
    }
    user_id = std::move(*user);
  }
  sweep_sockets();  // a socket that left this namespace before is replaced, from our own stack
  sio_socket& sock = *sockets_.emplace_back(std::make_unique<sio_socket>(
      *this, *ns, eio::make_sid(ctx_.slot), std::string(auth), std::move(user_id)));
  if (state_ == state::handshaking) set_state(state::connected);
  // The application answers the CONNECT, maybe after the room's subscription, or refuses it.
  ns->application->on_connect(sock);
  if (sock.current_phase() == sio_socket::phase::refused) {
    sockets_.pop_back();  // the application holds no reference to a refused socket
    bool any = std::any_of(sockets_.begin(), sockets_.end(),
                           [](const std::unique_ptr<sio_socket>& x) { return x->joined(); });
    if (!any) set_state(state::handshaking);
  }
  arm_timer();
}

void session::on_event(sio_socket& s, std::string_view data, int64_t ack_id) {
  if (!s.within_message_rate(uv_now(ctx_.loop))) return;
  std::optional<sio::event_args> ev = sio::split_event(data);
  if (!ev) return fail(ws::close_code::protocol_error, "malformed EVENT");
  app::ack_args ack = s.ns().application->on_event(s, *ev, ack_id);
  if (ack_id >= 0 && ack) send(make_text_frame({sio::encode_ack(s.nsp(), ack_id, *ack)}));
}

void session::on_binary(std::string_view data) {
  if (state_ >= state::closing) return;
  if (raw_echo_) return echo_back(false, data);
  if (!binary_) return fail(ws::close_code::protocol_error, "unexpected binary frame");
  binary_->parts.emplace_back(data);
  if (binary_->parts.size() == binary_->expected) finish_binary();
}

void session::echo_back(bool text, std::string_view packet) {
  if (text) {
    send(make_text_frame({packet}));
    return;
  }
  std::string frame;
  ws::append_frame(frame, ws::opcode::binary, packet);
  send(make_bytes(std::move(frame)));
}

void session::finish_binary() {
  std::unique_ptr<binary_state> b = std::move(binary_);
  std::optional<sio::packet> p = sio::parse(b->head);
  if (p && !sio::valid_placeholders(p->data, b->parts.size())) {
    // As the reference decoder: the sender's packet is illegal, the sender goes (relaying it
    // would make every receiving socket.io-client fail to decode it).
    return fail(ws::close_code::protocol_error, "illegal attachments");
  }
  // The socket may have left while its attachments were on the way: they go nowhere.
  sio_socket* sock = p ? socket(p->nsp) : nullptr;
  if (sock == nullptr) return;
  if (b->type == sio::packet_type::binary_ack) {
    return sock->ns().application->on_ack(*sock, p->ack_id, p->data, std::move(b->parts));
  }
  if (sock->within_message_rate(uv_now(ctx_.loop))) {
    std::optional<sio::event_args> ev = sio::split_event(p->data);
    if (ev) {
      app::ack_args ack =
          sock->ns().application->on_binary_event(*sock, *ev, p->ack_id, std::move(b->parts));
      if (p->ack_id >= 0 && ack) send(make_text_frame({sio::encode_ack(sock->nsp(), p->ack_id, *ack)}));
    }
  }
}

void session::end() {
  if (state_ == state::closed) return;
  set_state(state::closed);
  for (const auto& sock : sockets_) sock->leave();
  if (conn_ != nullptr) {
    // The transport must not keep a pointer to a session freed at the next prepare. When its
    // own close ended us this only detaches (it is closing already); otherwise it closes too: a
    // WebSocket with a close frame, a held GET with what was pending and the close packet.
    transport* t = conn_;
    conn_ = nullptr;
    t->release();
    t->close(ws::close_code::normal, {});
  }
  if (probe_ != nullptr) drop_probe();
  ctx_.timers.cancel(*this);
  ctx_.registry.retire(*this);
}

}  // namespace chatd
