// The worker's server: accepting, the per-iteration close sweep and flush, retire and stop.

#include "worker/server.h"

#include "worker/echo.h"

#include "common/engineio.h"
#include "common/log.h"
#include "worker/connection.h"
#include "worker/presence.h"
#include "worker/session.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace chatd {
namespace {

// One read buffer for every connection of the worker: reads are consumed inside their callback,
// so idle connections carry no receive buffer at all.
constexpr size_t k_read_buffer = 64 * 1024;
// Base64 characters 0-1 of a sid carry the slot byte; from character 2 on they are random.
constexpr size_t sid_random_offset = 2;

}  // namespace

server::server(uv_loop_t* loop, const config& cfg, unsigned slot, unsigned generation,
               stats_segment* segment, worker_stats& stats)
    : loop_(loop),
      cfg_(cfg),
      slot_(slot),
      generation_(generation),
      segment_(segment),
      stats_(stats),
      timers_(loop, k_timer_tick_ms, &session::timer_fired, nullptr),
      conn_timers_(loop, k_conn_timer_tick_ms, &connection::head_timer_fired, nullptr),
      output_(cfg.max_output_memory),
      ip_limits_(ip_limit_settings{cfg.max_connections_per_ip, cfg.rooms_per_ip_per_minute,
                                   cfg.rooms_per_ip}),
      read_buf_(k_read_buffer + k_read_padding) {
  int workers = std::max(1, cfg_.worker_count());
  max_connections_ = std::max<size_t>(1, cfg_.max_connections / static_cast<size_t>(workers));
  uv_prepare_init(loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, &server::on_prepare);
  uv_idle_init(loop_, &more_);
  more_.data = this;
  uv_timer_init(loop_, &deadline_);
  deadline_.data = this;
  uv_timer_init(loop_, &linger_timer_);
  linger_timer_.data = this;
  ping_frame_ = make_text_frame({"2"});

  // 6 characters like the adapter's uid2(6), taken past the sid's slot-bearing first bytes.
  std::string uid = eio::make_sid(slot_).substr(sid_random_offset, 6);
  auto on_broadcast = [this](const wire::broadcast& b) { chat_->on_bus(b); };
  auto on_state = [this](bool up) {
    stats_.bus_up.store(up ? 1 : 0, std::memory_order_relaxed);
    if (!up) chat_->release_pending();  // nothing to wait for while Redis is away
  };
  auto on_room_ready = [this](std::string_view room) { chat_->on_room_ready(room); };
  redis_commander commands;
  if (cfg_.redis_cluster) {
    sharded_ = std::make_unique<sharded_bus>(
        loop_, cfg_, uid, &stats_, sharded_bus::callbacks{on_broadcast, on_state, on_room_ready});
    port_ = sharded_.get();
    wire_ = sharded_.get();
    commands = sharded_->commander();
  } else {
    bus::callbacks cb;
    cb.on_broadcast = on_broadcast;
    cb.on_state = on_state;
    cb.on_room_ready = on_room_ready;
    cb.is_local_socket = [this](std::string_view room) { return chat_->find(room) != nullptr; };
    bus_ = std::make_unique<bus>(loop_, cfg_, uid, &stats_, std::move(cb));
    classic_wire_ = std::make_unique<classic_adapter_wire>(cfg_, *bus_);
    port_ = bus_.get();
    wire_ = classic_wire_.get();
    commands = commander_of(bus_->command_link());
  }
  // With the pattern subscription a socket's own room needs no SUBSCRIBE (is_local_socket); the
  // sharded bus publishes to socket ids on the namespace channel.
  const bool socket_rooms = cfg_.adapter_socket_rooms && !cfg_.redis_cluster &&
                            !cfg_.adapter_pattern_subscription;
  chat_ = std::make_unique<chat>(stats_, port_, socket_rooms,
                                 cfg_.auth.rewrite_user_id ? user_id_rule::rewrite
                                                           : user_id_rule::refuse);
  chat_->set_delivery_timer(&delivery_);
  chat_->set_connect_limits(chat::connect_limits{cfg_.max_channel_length, cfg_.max_user_id_length,
                                                 &ip_limits_, [this] { return uv_now(loop_); }});
  // History hook: on the bus' publisher link (README "History and connection state recovery").
  if (cfg_.history_enabled && cfg_.history_max_messages > 0) {
    history_ = std::make_unique<history_store>(
        std::move(commands),
        history_store::settings{cfg_.redis_key, cfg_.history_max_messages, cfg_.history_max_age_ms});
    chat_->enable_history(history_.get());
  }
  // validate_config refuses recovery in cluster mode: its script spans slots.
  if (cfg_.recovery_enabled && bus_) enable_recovery(uid);
  adapter_ = std::make_unique<adapter_node>(loop_, cfg_, *wire_, *chat_, stats_);
  adapter_->start();
  // `who`: GET /presence's question and answer, asked from a socket.
  chat_->who_sink = [this](std::string room, chat::who_reply reply) {
    wire::room_selector sel;
    sel.rooms.push_back(room);
    adapter_->fetch_sockets(std::move(sel), [room, reply = std::move(reply)](adapter_node::fetch_result r) {
      reply(render_presence(room, r));
    });
  };
  for (const namespace_config& ns : cfg_.namespaces) {
    if (ns.app == app_kind::chat) {
      namespaces_.add(ns, *chat_);
    } else {
      namespaces_.add(ns, *apps_.emplace_back(std::make_unique<echo>()));
    }
  }
  session_ctx_.emplace(session_context{loop_, cfg_, slot_, stats_, timers_, ping_frame_,
                                       namespaces_, sessions_, &output_});
  port_->start();
}

server::~server() { sessions_.collect(); }

void server::enable_recovery(const std::string& uid) {
  const bool history = history_ != nullptr;
  stream_pub_ = std::make_unique<stream_publisher>(
      loop_, bus_->command_link(), uid, &stats_,
      stream_publisher::settings{cfg_.redis_key, cfg_.recovery_max_entries,
                                 history ? cfg_.history_max_messages : 0, cfg_.history_max_age_ms});
  recovery::hooks h;
  h.proceed = [this](member& m, const recovery_wire::session_record* r) { chat_->connect_member(m, r); };
  h.rooms_of = [](const member& m) { return chat::rooms_of(m); };
  // The old socket of a client that came back before its connection was seen gone: one sid,
  // one socket (the old one leaves without a reply: its transport is presumably dead).
  h.evict = [this](std::string_view sid) {
    if (member* old = chat_->find(sid)) old->disconnect(false);
  };
  recovery_ = std::make_unique<recovery>(
      loop_, bus_->command_link(),
      recovery::settings{cfg_.redis_key, cfg_.recovery_max_disconnection_ms, slot_}, std::move(h));
  bus_->deliver_own(true);  // our recorded broadcasts reach our members from Redis, in order
  chat_->enable_recovery(recovery_.get(), stream_pub_.get());
}

int server::listen(int fd) {
  int r = uv_tcp_init(loop_, &listener_);
  if (r != 0) return r;
  listener_.data = this;
  r = uv_tcp_open(&listener_, fd);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), cfg_.listen_backlog,
                            &server::on_connection);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    return r;
  }
  listening_ = true;
  return 0;
}

void server::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* srv = static_cast<server*>(listener->data);
  if (status < 0) {
    srv->socket_error("accept", status);
    return;
  }
  connection* c = connection::create(*srv, srv->loop_);
  if (c == nullptr) return;
  if (uv_accept(listener, c->stream()) != 0) {
    c->discard();
    return;
  }
  if (!srv->admit(c)) {
    // A clear answer rather than a reset: 503 and a lingering close. Such connections count
    // while they linger (at most k_linger_ms), so the limit can be passed by that many briefly.
    srv->stats_.rejected_total.fetch_add(1, std::memory_order_relaxed);
    log::debug("refusing a connection: {} open, limit {}", srv->connection_count_,
               srv->max_connections_);
    c->refuse();
    return;
  }
  std::string ip = c->peer_address();
  if (!srv->ip_limits_.connection_opened(ip)) {
    srv->stats_.limit_ip_connections_refused_total.fetch_add(1, std::memory_order_relaxed);
    log::debug("refusing a connection from {}: limit {} per address", ip,
               srv->cfg_.max_connections_per_ip);
    c->refuse("too many connections from this address");
    return;
  }
  c->count_under(std::move(ip));
  srv->stats_.accepted_total.fetch_add(1, std::memory_order_relaxed);
  if (!c->start()) c->abort("read_start failed");
}

bool server::admit(connection* c) {
  const bool within = connection_count_ < max_connections_ && mode_ == mode::serving;
  uv_tcp_nodelay(c->tcp(), 1);
  c->next = head_;
  if (head_ != nullptr) head_->prev = c;
  head_ = c;
  ++connection_count_;
  stats_.connections.store(connection_count_, std::memory_order_relaxed);
  return within;
}

int server::enable_handover(int recv_fd, std::vector<int> send_fds) {
  handover_ = std::make_unique<handover>(
      loop_, recv_fd, std::move(send_fds),
      [this](int fd, std::string bytes) { adopt(fd, std::move(bytes)); });
  return handover_->start();
}

void server::adopt(int fd, std::string bytes) {
  connection* c = connection::create(*this, loop_);
  if (c == nullptr) {
    ::close(fd);
    return;
  }
  if (int r = uv_tcp_open(c->tcp(), fd); r != 0) {
    socket_error("adopting a handed-over connection", r);
    ::close(fd);
    c->discard();
    return;
  }
  // A handed-over request belongs to a session this worker already serves: never refused.
  admit(c);
  std::string ip = c->peer_address();
  ip_limits_.connection_opened(ip, /*enforce=*/false);
  c->count_under(std::move(ip));
  if (!c->start()) {
    c->abort("read_start failed");
    return;
  }
  c->feed(std::move(bytes));
}

bool server::hand_over(connection& c, unsigned slot, std::string_view bytes) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(c.tcp()), &fd) != 0) return false;
  int r = handover_ ? handover_->send(slot, fd, bytes) : -1;
  if (r != 0) {
    socket_errors_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("cannot hand a connection over to slot {}: {} ({} more socket errors suppressed)",
                slot, r < 0 ? strerror(-r) : "no channel", suppressed);
    });
    return false;
  }
  stats_.handovers_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void server::end_polling_sessions() {
  for (session* s : sessions_.polling()) s->end();
}

void server::mark_dirty(connection& c) { dirty_.push(&c); }

void server::close_soon(connection& c) {
  if (c.close_listed) return;
  c.close_listed = true;
  closing_.push(&c);
}

void server::sweep_closing() {
  while (!closing_.empty()) {
    auto batch = closing_.take();
    for (connection* c : batch) c->close_now();
    closing_.recycle(std::move(batch));
  }
}

void server::on_prepare(uv_prepare_t* p) noexcept {
  auto* srv = static_cast<server*>(p->data);
  // Close first (sessions leave their rooms outside any broadcast), then write: one write per
  // connection per loop iteration carries everything queued during it. Then close again: a
  // flush that failed must not wait for the next wake-up, which may be far away.
  srv->sweep_closing();
  // Redis first: the other workers' share of a broadcast then travels while this one writes.
  if (srv->port_ != nullptr) srv->port_->flush();
  // A flush may answer a held GET and resume requests buffered behind it, which may queue more:
  // go round until nothing is left (bounded), as the loop would not wake up for it.
  for (int round = 0; round < 8 && !srv->dirty_.empty(); ++round) {
    auto batch = srv->dirty_.take();
    for (connection* c : batch) {
      // Cleared here, not by flush() (which a write callback also calls): listed <=> dirty.
      c->dirty = false;
      c->flush();
    }
    srv->dirty_.recycle(std::move(batch));
    srv->sweep_closing();
  }
  // What this iteration's broadcasts queued has been written (or is queued behind backpressure).
  srv->delivery_.flushed();
  // The budget sees what the writes could not take: a reader's burst has left by now.
  srv->enforce_output_budget();
  srv->sessions_.collect();
  // Work left after the bounded rounds must not wait for an unrelated wake-up: an active idle
  // handle makes the next poll return at once, and this runs again.
  if (!srv->dirty_.empty() || !srv->closing_.empty()) {
    uv_idle_start(&srv->more_, [](uv_idle_t*) noexcept {});
  } else {
    uv_idle_stop(&srv->more_);
  }
}

void server::socket_error(std::string_view what, int uv_error) {
  socket_errors_log_(uv_now(loop_), [&](uint64_t suppressed) {
    log::warn("{} failed: {} ({} more socket errors suppressed)", what, uv_strerror(uv_error),
              suppressed);
  });
}

void server::enforce_output_budget() {
  if (output_.over()) {
    const uint64_t before = output_.total();
    output_budget::dropped d = output_.enforce();
    output_budget_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("queued output {} bytes over limits.max_output_memory {}: dropping {} clients "
                "holding {} bytes ({} such lines suppressed)",
                before, output_.limit(), d.clients, d.bytes, suppressed);
    });
    sweep_closing();
  }
  stats_.output_queued_bytes.store(output_.total(), std::memory_order_relaxed);
}

void server::linger(connection& c) {
  lingering_.push_back(&c);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&linger_timer_))) {
    uv_timer_start(&linger_timer_, &server::on_linger_timer, k_linger_ms / 4, k_linger_ms / 4);
  }
}

void server::on_linger_timer(uv_timer_t* t) noexcept {
  auto* srv = static_cast<server*>(t->data);
  uint64_t now = uv_now(srv->loop_);
  for (connection* c : srv->lingering_) {
    if (now >= c->linger_deadline()) srv->close_soon(*c);
  }
  srv->sweep_closing();
  if (srv->lingering_.empty()) uv_timer_stop(&srv->linger_timer_);
}

void server::connection_closed(connection& c) {
  if (c.prev != nullptr) c.prev->next = c.next;
  if (c.next != nullptr) c.next->prev = c.prev;
  if (head_ == &c) head_ = c.next;
  --connection_count_;
  stats_.connections.store(connection_count_, std::memory_order_relaxed);
  if (!c.counted_ip().empty()) ip_limits_.connection_closed(c.counted_ip());
  // A connection freed while still listed would dangle. (Never on the closing list here: it was
  // taken off by the sweep that closed it.)
  if (c.dirty) dirty_.erase(&c);
  std::erase(lingering_, &c);
  if (mode_ != mode::serving) maybe_finish();
}

void server::stop_accepting() {
  if (!listening_) return;
  listening_ = false;
  // Closes only this process's copy: the master and the other generation keep the socket, so
  // connections waiting in its accept queue are served by them.
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
}

void server::retire() {
  if (mode_ != mode::serving) return;
  mode_ = mode::retiring;
  stats_.state.store(2, std::memory_order_relaxed);
  log::info("retiring: not accepting; {} connections may stay up to {} ms", connection_count_,
            cfg_.shutdown_timeout_ms);
  stop_accepting();
  // The next generation of this slot reads the hand-over channel from now on, so this worker's
  // polling sessions can no longer be reached by new connections: close them now (a held GET
  // gets the close packet) and let their clients reconnect to the new generation, rather than
  // leave them in their rooms until shutdown_timeout. WebSocket sessions drain as before.
  if (handover_) handover_->stop();
  end_polling_sessions();
  uv_timer_start(&deadline_, &server::on_deadline, cfg_.shutdown_timeout_ms, 0);
  maybe_finish();
}

void server::stop() {
  if (mode_ == mode::stopping) return;
  mode_ = mode::stopping;
  stats_.state.store(3, std::memory_order_relaxed);
  log::info("stopping: closing {} connections", connection_count_);
  stop_accepting();
  if (handover_) handover_->stop();
  close_all(ws::close_code::going_away);
  // Clients get shutdown_timeout to take their close frames; then the loop ends regardless.
  uv_timer_start(&deadline_, &server::on_deadline, cfg_.shutdown_timeout_ms, 0);
  maybe_finish();
}

void server::close_all(uint16_t code) {
  end_polling_sessions();  // a held GET gets the close packet
  for (connection* c = head_; c != nullptr; c = c->next) {
    if (c->is_websocket()) {
      c->close_ws(code, "server shutting down");
    } else if (c->has_output()) {
      c->close_gracefully();  // a held GET's close packet, say
    } else {
      c->abort("server shutting down");
    }
  }
}

void server::on_deadline(uv_timer_t* t) noexcept {
  auto* srv = static_cast<server*>(t->data);
  if (srv->mode_ == mode::retiring) {
    log::info("shutdown_timeout passed with {} connections: closing them", srv->connection_count_);
    srv->mode_ = mode::stopping;
    srv->close_all(ws::close_code::going_away);
    // Give the close frames a moment to leave, then end whatever is left.
    uv_timer_start(&srv->deadline_, &server::on_deadline, 1000, 0);
    return;
  }
  for (connection* c = srv->head_; c != nullptr; c = c->next) c->abort("shutdown deadline");
  srv->maybe_finish();
}

void server::maybe_finish() {
  if (mode_ == mode::serving || connection_count_ > 0) return;
  end_polling_sessions();
  // Nothing left to serve: release every handle so uv_run returns.
  uv_timer_stop(&deadline_);
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&deadline_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&linger_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&more_), nullptr);
    timers_.close();
    conn_timers_.close();
    if (recovery_) recovery_->stop();
    if (stream_pub_) stream_pub_->stop();
    port_->stop();
  }
}

}  // namespace chatd
