#pragma once
// One client TCP connection: reads into the worker's shared read buffer, parses HTTP requests
// (Beast's parser fed from libuv reads) until a WebSocket upgrade, then WebSocket frames
// (common/ws_codec) handed to the Engine.IO session. Output is a bounded queue of shared buffers
// written once per loop iteration by the server (one syscall carries everything queued).
//
// Over HTTP a connection may hold a long-polling GET for a session (answered at the next flush
// once the session has something to send), and a request for a session another worker owns makes
// the connection itself move to that worker (worker/handover.h).
//
// Closing is never done from inside a callback chain that might walk a room: abort() and
// close-after-flush put the connection on the server's close list and the server's sweep closes
// it (Redis' freeClientAsync). The object is freed in the uv_close callback of its TCP handle.
//
// Lifetime, one pair: create() allocates and initialises the TCP handle; the object is freed only
// in a close callback of that handle (on_closed once admitted and counted by the server,
// discard() before that). The destructor is private and checks the handle was closed.

#include "common/ws_codec.h"
#include "worker/frame.h"
#include "worker/output_budget.h"
#include "worker/poll_transport.h"
#include "worker/timer_wheel.h"
#include "worker/transport.h"

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class connection;
class server;
class session;
struct http_state;

// An HTTP answer that comes later (chatd's own cluster request in flight): the route keeps this
// and calls respond() when it has the answer. The connection reads no further request meanwhile
// (HTTP/1.1 answers in order); if it closes first, `conn` is cleared and respond() does nothing.
struct deferred_reply {
  connection* conn = nullptr;
  bool keep_alive = true;
  void respond(int status, std::string_view type, std::string_view body, std::string_view extra = {});
};

class connection final : public transport, public held_get, private ws::frame_handler,
                         private timer_node, private output_account {
 public:
  // A connection with an initialised TCP handle, or nullptr (logged) when libuv refused one.
  static connection* create(server& srv, uv_loop_t* loop);
  // Frees a connection the server never admitted (accept or adoption failed), through uv_close.
  void discard();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  uv_tcp_t* tcp() { return &tcp_; }
  // The peer's IP as text ("127.0.0.1", "::1"); empty if the socket has none any more.
  std::string peer_address();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  // Starts reading (after uv_accept, or after adopting a handed-over descriptor).
  bool start();
  // Over a connection limit: answers 503 with `why` and closes (after the client's request is
  // drained).
  void refuse(std::string_view why = "connection limit reached");
  // The source address this connection is counted under (per-IP limits), empty if none.
  void count_under(std::string ip) { counted_ip_ = std::move(ip); }
  const std::string& counted_ip() const { return counted_ip_; }
  // limits.handshake_timeout: the server's connection timer wheel calls this for a connection
  // still waiting for a request head.
  static void head_timer_fired(timer_node& node, void* ctx) noexcept;
  // A handed-over connection: the bytes the previous worker had read, parsed as if read here.
  void feed(std::string bytes);
  // held_get: the polling transport whose GET this connection holds has something, or answers.
  void wake() override { mark_dirty(); }
  void answer_poll(std::string_view payload) override;
  // This WebSocket carries `s` (its transport, or a probe of its upgrade): frames go to it.
  void carry(session& s) { session_ = &s; }
  // transport
  // Queues bytes for the next flush, charged to the worker's output budget. Returns false, and
  // drops the client, when the queue would exceed max_backpressure; false also when the
  // connection is closing.
  bool send(const shared_bytes& bytes) override;
  void close(uint16_t code, std::string_view why) override { close_ws(code, why); }
  void release() override { session_ = nullptr; }
  // Graceful close of a WebSocket: close frame with `code`, flush, then close the TCP connection.
  void close_ws(uint16_t code, std::string_view reason = {});
  // Closes once what is queued has been written (an HTTP answer, say).
  void close_gracefully() { close_after_flush(); }
  bool has_output() const { return out_head_ != out_.size() || writing_; }
  // Closes without flushing, soon (the sweep does it).
  void abort(std::string_view why);
  bool closing() const { return phase_ == phase::closing || phase_ == phase::closed; }
  bool is_websocket() const { return phase_ == phase::websocket; }
  bool idle_http() const;

  // The narrow HTTP API the router (worker/http_router.h) works through.
  server& owner() { return srv_; }
  // A complete response; closes after it unless keep-alive.
  void respond(int status, std::string_view type, std::string_view body, bool keep_alive,
               std::string_view extra = {});
  // The same for an answer already in bytes (http_head's, say).
  void respond(std::string response, bool keep_alive);
  // The 101 answer is queued: from now on the bytes are WebSocket frames.
  void accept_websocket();
  // Holds the current GET for `p` until it has something to send (answer_poll).
  void hold_poll(poll_transport& p, bool keep_alive, std::string headers);
  // The current request is answered later, through the returned handle.
  std::shared_ptr<deferred_reply> defer_reply(bool keep_alive);

  // Called by the server only.
  void flush();
  void close_now();
  // Lingering close: past this time (uv_now ms) the server closes the connection regardless.
  uint64_t linger_deadline() const { return linger_deadline_; }

  // Server bookkeeping (intrusive list, dirty and close lists).
  connection* prev = nullptr;
  connection* next = nullptr;
  bool dirty = false;
  bool close_listed = false;

 private:
  enum class phase : uint8_t { http, websocket, closing, closed };
  static constexpr size_t k_idle_out_chunks = 4;
  struct out_chunk {
    shared_bytes bytes;
    size_t offset = 0;
  };

  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void on_write(uv_write_t* req, int status) noexcept;
  static void on_closed(uv_handle_t* h) noexcept;
  static void on_discarded(uv_handle_t* h) noexcept;
  static void on_shutdown(uv_shutdown_t* req, int status) noexcept;

  void on_data(char* data, size_t len);
  void on_http_data(char* data, size_t len);
  void drain_http();
  void feed_websocket(char* data, size_t len);
  void consume(size_t bytes);
  void mark_dirty();
  void close_after_flush();
  void begin_linger();
  void do_handover();
  // The head deadline: armed while waiting for a request head (accepted, or idle after an
  // answer on a keep-alive connection), off once the head is in.
  void arm_head_deadline();
  void disarm_head_deadline();
  void on_head_timeout();
  // output_account: the worker is over limits.max_output_memory and this queue is among the
  // largest: closed without flushing, by the sweep.
  void drop_for_budget() override;

  // frame_handler
  bool on_message(ws::opcode op, std::string_view payload) override;
  bool on_ping(std::string_view payload) override;
  bool on_pong(std::string_view payload) override;
  bool on_close(uint16_t code, std::string_view reason) override;

  explicit connection(server& srv);
  ~connection() override;

  uv_tcp_t tcp_;
  bool handle_closed_ = false;  // set by the close callback, checked by the destructor
  server& srv_;
  phase phase_ = phase::http;
  bool close_when_flushed_ = false;
  bool writing_ = false;
  bool lingering_ = false;
  uint64_t linger_deadline_ = 0;
  size_t inflight_chunks_ = 0;
  std::unique_ptr<http_state> http_;
  std::unique_ptr<ws::frame_parser> ws_;
  session* session_ = nullptr;  // WebSocket: the session it carries (see transport.h)
  poll_transport* poll_ = nullptr;  // HTTP: the polling transport whose GET this connection holds
  std::shared_ptr<deferred_reply> deferred_;  // HTTP: the request answered later, if any
  friend struct deferred_reply;
  bool poll_keep_alive_ = true;
  std::string poll_headers_;    // the held GET's extra response headers (CORS, no-store)
  int handover_slot_ = -1;      // a request to hand over once the output queue has drained
  bool resume_http_ = false;    // requests were left buffered behind a held GET
  bool served_ = false;         // a request head has been routed on this connection
  std::string counted_ip_;      // see count_under()
  std::vector<out_chunk> out_;
  size_t out_head_ = 0;
  size_t queued_bytes_ = 0;
};

}  // namespace chatd
