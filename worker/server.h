#pragma once
// The worker's server: owns the loop-level state — the adopted listening socket, the client
// connections, the per-iteration flush and close sweep, the chat gateway, the Redis bus — and
// the worker's lifecycle (accepting, retiring, stopping).

#include "common/config.h"
#include "common/ip_limits.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "worker/delivery_timer.h"
#include "worker/adapter_node.h"
#include "worker/namespace_table.h"
#include "worker/bus.h"
#include "worker/classic_adapter_wire.h"
#include "worker/sharded_bus.h"
#include "worker/chat.h"
#include "worker/frame.h"
#include "worker/handover.h"
#include "worker/history_store.h"
#include "worker/recovery.h"
#include "worker/stream_publisher.h"
#include "worker/output_budget.h"
#include "worker/session_context.h"
#include "worker/session_registry.h"
#include "worker/timer_wheel.h"
#include "worker/work_list.h"

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

class connection;
class session;

class server {
 public:
  server(uv_loop_t* loop, const config& cfg, unsigned slot, unsigned generation,
         stats_segment* segment, worker_stats& stats);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Adopts the master's listening socket and starts accepting. Returns 0 or a libuv error.
  int listen(int fd);
  // Receives connections handed over to this slot and may hand over to the others.
  int enable_handover(int recv_fd, std::vector<int> send_fds);
  // SIGQUIT: stop accepting; serve live clients until they leave or shutdown_timeout passes.
  void retire();
  // SIGTERM: stop accepting; close every client gracefully now; at most shutdown_timeout.
  void stop();

  // For connections and sessions.
  uv_loop_t* loop() { return loop_; }
  // A libuv call on one connection failed (`what`, its status): a warning, at most one per
  // interval however many connections fail (an EMFILE storm must not flood the log).
  void socket_error(std::string_view what, int uv_error);
  const config& cfg() const { return cfg_; }
  unsigned slot() const { return slot_; }
  worker_stats& stats() { return stats_; }
  stats_segment* segment() { return segment_; }
  chat& gateway() { return *chat_; }
  bus_port* redis_bus() { return port_; }
  adapter_node& adapter() { return *adapter_; }
  std::pair<char*, size_t> read_buffer() { return {read_buf_.data(), read_buf_.size() - k_read_padding}; }
  void mark_dirty(connection& c);
  // limits.max_output_memory: every client queue of this worker is charged to it.
  output_budget& output() { return output_; }
  // Connections' request-head deadlines (limits.handshake_timeout).
  timer_wheel& connection_timers() { return conn_timers_; }
  // Engine.IO sessions of this worker by sid (WebSocket and polling).
  session* find_session(std::string_view eio_sid) { return sessions_.find(eio_sid); }
  // What a session sees of this worker (session::create takes it).
  session_context& session_ctx() { return *session_ctx_; }
  // Hand-over of a connection whose request names another slot's session.
  // Only to slots of this generation's config: a slot a reload dropped has no reader.
  bool can_hand_over(unsigned slot) const {
    return handover_ && slot < static_cast<unsigned>(cfg_.worker_count()) && handover_->can_send(slot);
  }
  // Sends `c`'s socket and `bytes` to `slot`; true when the owner has it (c then just goes).
  bool hand_over(connection& c, unsigned slot, std::string_view bytes);
  void close_soon(connection& c);
  void connection_closed(connection& c);  // from the TCP close callback, before freeing
  // A connection that half-closed and waits for the client's FIN, at most k_linger_ms.
  void linger(connection& c);
  static constexpr uint64_t k_linger_ms = 2000;

  // Bytes kept readable after a read so JSON parsers may look ahead safely.
  static constexpr size_t k_read_padding = 64;

 private:
  static void on_connection(uv_stream_t* listener, int status) noexcept;
  // Counts and lists a connection whose TCP handle is open; false when it is over the limit (or
  // the worker no longer serves): the caller then refuses it or, for a hand-over, serves it anyway.
  bool admit(connection* c);
  void adopt(int fd, std::string bytes);
  void end_polling_sessions();
  static void on_prepare(uv_prepare_t* p) noexcept;
  static void on_deadline(uv_timer_t* t) noexcept;
  static void on_linger_timer(uv_timer_t* t) noexcept;
  void sweep_closing();
  // Drops the largest queues while the worker is over its output budget (after the flush).
  void enforce_output_budget();
  void stop_accepting();
  void close_all(uint16_t code);
  void maybe_finish();
  // recovery.enabled: builds the stream publisher and the restores, and hooks them into chat.
  void enable_recovery(const std::string& uid);

  uv_loop_t* loop_;
  config cfg_;
  unsigned slot_;
  unsigned generation_;
  stats_segment* segment_;
  worker_stats& stats_;
  delivery_timer delivery_{stats_};  // the iteration's broadcasts, observed after the flush
  uv_tcp_t listener_;
  bool listening_ = false;
  uv_prepare_t prepare_;
  uv_idle_t more_;  // active while flush or close work is left over: the loop does not block
  uv_timer_t deadline_;
  uv_timer_t linger_timer_;
  std::vector<connection*> lingering_;
  enum class mode { serving, retiring, stopping } mode_ = mode::serving;
  size_t max_connections_;
  size_t connection_count_ = 0;
  connection* head_ = nullptr;  // every open connection
  work_list<connection> dirty_;    // connections with output queued this iteration
  work_list<connection> closing_;  // connections to close at the next sweep
  // Every session's heartbeat; ticks of k_timer_tick_ms (a timer fires at most a tick late).
  static constexpr uint64_t k_timer_tick_ms = 10;
  timer_wheel timers_;
  // Request-head deadlines of connections speaking HTTP; coarse ticks (seconds-long timeouts).
  static constexpr uint64_t k_conn_timer_tick_ms = 100;
  timer_wheel conn_timers_;
  // Declared before anything that queues output (connections are freed before the server).
  output_budget output_;
  log::rate_limited output_budget_log_;
  log::rate_limited socket_errors_log_;  // per-connection failures: accept, adopt, read_start...
  // Per-address connection and room counts of this worker (limits: in the config).
  ip_limits ip_limits_;
  std::vector<char> read_buf_;
  shared_bytes ping_frame_;
  // redis.mode standalone: the classic bus and its adapter dialect; cluster: the sharded bus,
  // which is both. port_ and wire_ point at whichever is in use.
  std::unique_ptr<bus> bus_;
  std::unique_ptr<classic_adapter_wire> classic_wire_;
  std::unique_ptr<sharded_bus> sharded_;
  bus_port* port_ = nullptr;
  adapter_wire* wire_ = nullptr;
  std::unique_ptr<chat> chat_;
  std::unique_ptr<history_store> history_;  // history.enabled: the chat app's `history`
  // recovery.enabled: the chat app's recorded broadcasts and session restores.
  std::unique_ptr<stream_publisher> stream_pub_;
  std::unique_ptr<recovery> recovery_;
  std::unique_ptr<adapter_node> adapter_;
  // The applications of the other namespaces (echo), and which serves each (config namespaces:).
  std::vector<std::unique_ptr<app>> apps_;
  namespace_table namespaces_;
  std::unique_ptr<handover> handover_;
  // Declared after the timer wheel and the application: sessions go first.
  session_registry sessions_;
  std::optional<session_context> session_ctx_;
};

}  // namespace chatd
