#pragma once
// One TCP connection to one Redis node, speaking RESP2 with hiredis' reply reader and command
// formatter on our own uv_tcp_t: for what hiredis 0.14's async context cannot do, sharded pub/sub
// (it asserts on an `smessage` push). Commands are appended to an output buffer and written once
// per loop iteration (a uv_prepare_t, or flush()); replies go to a FIFO of handlers.
//
// Connecting: resolve (off the loop) when the host is a name, TCP connect, AUTH when the endpoint
// has a password, then a PING that must be answered before on_ready: the connect timeout covers
// all of it (a stopped Redis completes the TCP handshake from its backlog). There is no SELECT:
// a cluster has only database 0.
//
// Pub/sub: SSUBSCRIBE/SUBSCRIBE/PSUBSCRIBE and their UNSUBSCRIBE forms take exactly one channel
// per command, so each has one confirmation. A reply array whose first element is smessage /
// message / pmessage goes to on_push; a (s|p)subscribe confirmation goes to the oldest pending
// handler if that is a subscribe, an (s|p)unsubscribe one to the oldest if that is an
// unsubscribe of the same channel: any other (Redis 7 unsubscribes a shard channel by itself when
// its slot migrates) is a push too. An error reply answers the oldest handler, whatever it is.
//
// Bounds: unsent output is capped (k_max_output_bytes), as are unanswered commands
// (k_max_pending); command() refuses beyond them, as bus_publisher drops. Unparsed input is
// capped (k_max_input_bytes), arrays at k_max_reply_elements elements per reply (resp_reader.h),
// and hiredis' reader refuses nesting deeper than 7 levels: each is a protocol error that ends
// the connection.
//
// Lifetimes and re-entrancy: every handle of one connection attempt lives in a heap `attempt`
// freed from the last uv_close callback, so the link may be destroyed or disconnected from any
// state, inside any of its own callbacks (reply handlers, on_push, on_ready, on_down) included.
// When the connection ends (lost, disconnect(), destruction) every pending handler is called
// once with a null reply, oldest first, before on_down; on_down comes once per loss and never
// after disconnect() or destruction.

#include "common/redis_url.h"

#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace chatd {

class resp_link {
 public:
  // The reply, or nullptr when the connection ended first; valid during the call only.
  using reply_handler = std::function<void(const redisReply* reply)>;
  // A pub/sub push: kind ("smessage", "sunsubscribe", ...), channel, payload (empty if none);
  // the views are valid during the call only.
  struct push {
    std::string_view kind;
    std::string_view channel;
    std::string_view payload;
  };
  struct callbacks {
    std::function<void()> on_ready;
    std::function<void(const std::string& why)> on_down;  // failed to connect, or lost
    std::function<void(const push& p)> on_push;
  };

  // Unsent bytes allowed: about a third of a second of pipelined publishing at 200-byte messages
  // (the classic bus' figure); beyond it the node is not keeping up.
  static constexpr size_t k_max_output_bytes = 32u << 20;
  // Commands awaiting their reply: each holds a handler until the node answers.
  static constexpr size_t k_max_pending = 1u << 18;
  // Input not yet parsed into a whole reply: well above any message chatd publishes
  // (max_payload 1 MB by default) and far below what would hurt a worker.
  static constexpr size_t k_max_input_bytes = 64u << 20;

  resp_link(uv_loop_t* loop, redis_endpoint endpoint, uint32_t connect_timeout_ms,
            std::string name, callbacks cb);
  ~resp_link();
  resp_link(const resp_link&) = delete;
  resp_link& operator=(const resp_link&) = delete;

  // Starts connecting; on_ready or on_down follows, never from inside connect(). Does nothing
  // unless idle.
  void connect();
  // Ends the connection, if any: pending handlers get nullptr; no on_down.
  void disconnect();
  bool ready() const { return state_ == state::ready; }
  bool idle() const { return state_ == state::idle; }

  // Queues one command (argv[0] is its name); false, and `done` dropped uncalled, when the link
  // is not ready or a cap is reached. A subscribe or unsubscribe command takes one channel.
  bool command(std::span<const std::string_view> argv, reply_handler done);
  bool command(std::initializer_list<std::string_view> argv, reply_handler done) {
    return command(std::span<const std::string_view>(argv.begin(), argv.size()), std::move(done));
  }
  // Writes what is queued now instead of at the end of this loop iteration.
  void flush();

  // Bytes queued or being written, and commands awaiting their reply.
  size_t unsent_bytes() const;
  size_t pending() const;
  const redis_endpoint& endpoint() const { return endpoint_; }
  const std::string& name() const { return name_; }
  // "host:port", for logs.
  std::string where() const;

 private:
  enum class state { idle, connecting, ready };
  friend struct resp_link_access;
  struct attempt;

  uv_loop_t* loop_;
  redis_endpoint endpoint_;
  uint32_t connect_timeout_ms_;
  std::string name_;
  callbacks cb_;
  state state_ = state::idle;
  attempt* a_ = nullptr;
};

}  // namespace chatd
