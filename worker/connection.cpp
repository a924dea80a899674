// Client connection transport: reading, the bounded output queue and its flush, closing.
// HTTP request handling lives in connection_http.cpp.

#include "worker/connection.h"

#include "common/assert.h"
#include "common/log.h"
#include "worker/http_response.h"
#include "worker/http_state.h"
#include "worker/server.h"
#include "worker/session.h"

#include <fmt/format.h>

#include <cstring>

namespace chatd {
namespace {

// uv_try_write/uv_write take at most this many buffers per call: enough to carry a burst of
// broadcasts in one syscall, small enough to live on the stack.
constexpr size_t k_max_write_bufs = 64;

struct write_req {
  uv_write_t req;
  connection* conn;
};

}  // namespace

connection::connection(server& srv) : output_account(&srv.output()), srv_(srv) { tcp_.data = this; }

connection::~connection() {
  CHATD_ASSERT(handle_closed_, "a connection freed before its TCP handle was closed");
}

connection* connection::create(server& srv, uv_loop_t* loop) {
  auto* c = new connection(srv);
  if (int r = uv_tcp_init(loop, &c->tcp_); r != 0) {
    srv.socket_error("uv_tcp_init", r);
    c->handle_closed_ = true;  // never initialised: nothing to close
    delete c;
    return nullptr;
  }
  return c;
}

void connection::discard() {
  phase_ = phase::closed;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &connection::on_discarded);
}

void connection::on_discarded(uv_handle_t* h) noexcept {
  auto* c = static_cast<connection*>(h->data);
  c->handle_closed_ = true;
  delete c;
}

bool connection::start() {
  int r = uv_read_start(stream(), &connection::on_alloc, &connection::on_read);
  if (r != 0) {
    srv_.socket_error("read_start", r);
    return false;
  }
  arm_head_deadline();
  return true;
}

void connection::refuse(std::string_view why) {
  send(make_bytes(http_response(503, "text/plain", fmt::format("Service Unavailable: {}", why),
                                false, "Retry-After: 1\r\n")));
  close_after_flush();
}

void connection::arm_head_deadline() {
  if (phase_ != phase::http) return;
  srv_.connection_timers().schedule(*this, uv_now(srv_.loop()) + srv_.cfg().handshake_timeout_ms);
}

void connection::disarm_head_deadline() {
  if (timer_node::scheduled()) srv_.connection_timers().cancel(*this);
}

void connection::head_timer_fired(timer_node& node, void*) noexcept {
  static_cast<connection&>(node).on_head_timeout();
}

void connection::on_head_timeout() {
  if (phase_ != phase::http) return;
  if (served_ && (!http_ || http_->idle()) && poll_ == nullptr && !deferred_) {
    // A keep-alive connection idle between requests: closed quietly, as Node's keepAliveTimeout.
    close_after_flush();
    return;
  }
  if (poll_ != nullptr || deferred_ || handover_slot_ >= 0) return;  // a request is in
  srv_.stats().limit_handshake_timeouts_total.fetch_add(1, std::memory_order_relaxed);
  log::debug("closing a connection: no complete request head within {} ms",
             srv_.cfg().handshake_timeout_ms);
  respond(408, "text/plain", http_reason(408), false);
}

bool connection::idle_http() const {
  return phase_ == phase::http && (!http_ || http_->idle()) && out_head_ == out_.size();
}

void connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* c = static_cast<connection*>(h->data);
  auto [p, n] = c->srv_.read_buffer();
  *buf = uv_buf_init(p, static_cast<unsigned>(n));
}

void connection::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept {
  auto* c = static_cast<connection*>(s->data);
  if (n > 0) {
    c->on_data(buf->base, static_cast<size_t>(n));
    return;
  }
  if (n == 0) return;  // EAGAIN
  if (n != UV_EOF && n != UV_ECONNRESET) log::debug("read error: {}", uv_strerror(static_cast<int>(n)));
  c->abort("peer closed");
}

void connection::on_data(char* data, size_t len) {
  if (closing()) return;
  if (phase_ == phase::http) {
    on_http_data(data, len);
  } else if (phase_ == phase::websocket) {
    feed_websocket(data, len);
  }
}

void connection::feed_websocket(char* data, size_t len) {
  uint16_t err = ws_->feed(std::span<char>(data, len), *this);
  if (err != 0 && !closing()) {
    log::debug("websocket protocol error, closing with {}", err);
    close_ws(err);
    return;
  }
  if (!closing()) ws_->shrink_if_idle();
}

void connection::feed(std::string bytes) {
  if (!bytes.empty()) on_data(bytes.data(), bytes.size());
}

bool connection::on_message(ws::opcode op, std::string_view payload) {
  if (session_ == nullptr) return false;
  session_->on_ws_message(*this, op == ws::opcode::text, payload);
  return !closing();
}

bool connection::on_ping(std::string_view payload) {
  std::string frame;
  ws::append_frame(frame, ws::opcode::pong, payload);
  send(make_bytes(std::move(frame)));
  return !closing();
}

bool connection::on_pong(std::string_view) { return true; }

bool connection::on_close(uint16_t code, std::string_view) {
  // Echo the close (RFC 6455 5.5.1), then close the TCP connection once it is written.
  close_ws(code == ws::close_code::no_status ? ws::close_code::normal : code);
  return false;
}

bool connection::send(const shared_bytes& bytes) {
  if (closing()) return false;
  size_t n = bytes->size();
  if (queued_bytes_ + n > srv_.cfg().max_backpressure && queued_bytes_ > 0) {
    srv_.stats().dropped_slow_total.fetch_add(1, std::memory_order_relaxed);
    log::debug("dropping a client: {} bytes queued exceed max_backpressure {}",
               queued_bytes_ + n, srv_.cfg().max_backpressure);
    abort("slow consumer");
    return false;
  }
  out_.push_back(out_chunk{bytes, 0});
  queued_bytes_ += n;
  charge_output(n + k_entry_bytes, uv_now(srv_.loop()));
  mark_dirty();
  return true;
}

void connection::mark_dirty() {
  if (!dirty) {
    dirty = true;
    srv_.mark_dirty(*this);
  }
}

void connection::consume(size_t bytes) {
  queued_bytes_ -= bytes;
  size_t released = bytes;
  while (bytes > 0) {
    out_chunk& c = out_[out_head_];
    size_t left = c.bytes->size() - c.offset;
    if (bytes < left) {
      c.offset += bytes;
      release_output(released);
      return;
    }
    bytes -= left;
    c.bytes.reset();
    ++out_head_;
    released += k_entry_bytes;
  }
  while (out_head_ < out_.size() && out_[out_head_].offset == out_[out_head_].bytes->size()) {
    out_[out_head_].bytes.reset();
    ++out_head_;
    released += k_entry_bytes;
  }
  release_output(released);
}

std::string connection::peer_address() {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  int rc = addr.ss_family == AF_INET6
               ? uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&addr), text, sizeof(text))
               : uv_ip4_name(reinterpret_cast<sockaddr_in*>(&addr), text, sizeof(text));
  return rc == 0 ? std::string(text) : std::string();
}

void connection::flush() {
  if (poll_ != nullptr && poll_->ready() && !closing()) {
    answer_poll(poll_->take_payload());
  }
  if (writing_ || phase_ == phase::closed) return;
  uv_buf_t bufs[k_max_write_bufs];
  while (out_head_ < out_.size()) {
    size_t n = 0;
    for (size_t i = out_head_; i < out_.size() && n < k_max_write_bufs; ++i, ++n) {
      const out_chunk& c = out_[i];
      bufs[n] = uv_buf_init(const_cast<char*>(c.bytes->data() + c.offset),
                            static_cast<unsigned>(c.bytes->size() - c.offset));
    }
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) total += bufs[i].len;
    int r = uv_try_write(stream(), bufs, static_cast<unsigned>(n));
    if (r == UV_EAGAIN || r == UV_ENOSYS) r = 0;
    if (r < 0) {
      abort("write failed");
      return;
    }
    consume(static_cast<size_t>(r));
    if (static_cast<size_t>(r) == total) continue;
    // The socket buffer is full: hand the rest of this batch to libuv and wait for its callback.
    n = 0;
    for (size_t i = out_head_; i < out_.size() && n < k_max_write_bufs; ++i, ++n) {
      const out_chunk& c = out_[i];
      bufs[n] = uv_buf_init(const_cast<char*>(c.bytes->data() + c.offset),
                            static_cast<unsigned>(c.bytes->size() - c.offset));
    }
    auto* w = new write_req;
    w->conn = this;
    r = uv_write(&w->req, stream(), bufs, static_cast<unsigned>(n), &connection::on_write);
    if (r != 0) {
      delete w;
      abort("write failed");
      return;
    }
    writing_ = true;
    inflight_chunks_ = n;
    return;
  }
  out_.clear();
  out_head_ = 0;
  // A burst is over (say, a crowded room's logins arriving at once): an idle connection keeps
  // room for a few chunks, not its peak. Steady traffic rarely queues more than that per loop
  // iteration (about three at 1M deliveries/s), so it does not reallocate.
  if (out_.capacity() > k_idle_out_chunks) std::vector<out_chunk>().swap(out_);
  if (close_when_flushed_) return begin_linger();
  if (handover_slot_ >= 0) return do_handover();
  if (resume_http_ && phase_ == phase::http && poll_ == nullptr && !deferred_) {
    resume_http_ = false;
    on_http_data(nullptr, 0);
  }
}

void connection::begin_linger() {
  if (lingering_ || phase_ == phase::closed) return;
  lingering_ = true;
  // Closing a socket that still holds unread client bytes makes the kernel send a reset, which
  // can destroy the close frame just written. So: send FIN, keep reading (and discarding) until
  // the client closes too, or the linger time passes.
  auto* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, stream(), &connection::on_shutdown) != 0) {
    delete req;
    srv_.close_soon(*this);
    return;
  }
  linger_deadline_ = uv_now(srv_.loop()) + server::k_linger_ms;
  srv_.linger(*this);
}

void connection::on_shutdown(uv_shutdown_t* req, int status) noexcept {
  auto* c = static_cast<connection*>(req->data);
  delete req;
  if (status == UV_ECANCELED) return;  // the handle is being closed
  if (status < 0 || uv_read_start(c->stream(), &connection::on_alloc, &connection::on_read) != 0) {
    c->srv_.close_soon(*c);
  }
}

void connection::on_write(uv_write_t* req, int status) noexcept {
  auto* w = reinterpret_cast<write_req*>(req);
  connection* c = w->conn;
  delete w;
  c->writing_ = false;
  if (status < 0) {
    if (status != UV_ECANCELED) c->abort("write failed");
    return;
  }
  size_t bytes = 0;
  for (size_t i = 0; i < c->inflight_chunks_; ++i) {
    const out_chunk& ch = c->out_[c->out_head_ + i];
    bytes += ch.bytes->size() - ch.offset;
  }
  c->inflight_chunks_ = 0;
  c->consume(bytes);
  if (c->phase_ != phase::closed) c->flush();
}

void connection::close_ws(uint16_t code, std::string_view reason) {
  if (closing()) return;
  if (phase_ == phase::websocket) {
    send(make_bytes(ws::close_frame(code, reason)));
  }
  close_after_flush();
}

void connection::close_after_flush() {
  if (closing()) return;
  // The session ends in close_now(), from the sweep: this may run inside a broadcast that walks
  // the session's room.
  phase_ = phase::closing;
  uv_read_stop(stream());
  close_when_flushed_ = true;
  if (out_head_ == out_.size() && !writing_) {
    begin_linger();
  } else {
    // The flush that empties the queue closes the connection.
    if (!dirty) {
      dirty = true;
      srv_.mark_dirty(*this);
    }
  }
}

void connection::abort(std::string_view why) {
  if (phase_ == phase::closed) return;
  log::debug("closing connection: {}", why);
  phase_ = phase::closing;
  uv_read_stop(stream());
  srv_.close_soon(*this);
}

void connection::drop_for_budget() {
  srv_.stats().output_budget_dropped_total.fetch_add(1, std::memory_order_relaxed);
  abort("over the worker's output budget");
}

void connection::close_now() {
  if (phase_ == phase::closed) return;
  disarm_head_deadline();
  // Nothing queued will be written now; the queue itself goes with the object, shortly.
  release_all_output();
  if (session_ != nullptr) {
    session* s = session_;
    session_ = nullptr;
    s->transport_gone(*this);
  }
  if (poll_ != nullptr) {
    poll_transport* p = poll_;
    poll_ = nullptr;
    p->get_gone(*this);
  }
  if (deferred_) {
    deferred_->conn = nullptr;
    deferred_.reset();
  }
  phase_ = phase::closed;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &connection::on_closed);
}

void connection::on_closed(uv_handle_t* h) noexcept {
  auto* c = static_cast<connection*>(h->data);
  c->handle_closed_ = true;
  c->srv_.connection_closed(*c);
  delete c;
}

}  // namespace chatd
