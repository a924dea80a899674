#pragma once
// One simulated Socket.IO client of chatd-bench, as a state machine over a libuv TCP handle:
// TCP connect (optionally from a chosen source address) -> HTTP upgrade to WebSocket -> Engine.IO
// open packet -> Socket.IO CONNECT `40` -> `40{"sid":..}` -> connected, answering pings with
// pongs; then it sends what its owner asks and reports `chat` events and acks. Everything that
// happens is reported to a client_owner; the client never decides what to count.

#include "bench/chatd_bench/options.h"
#include "common/ws_codec.h"

#include <uv.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace chatd::bench {

class client;

// The owner's side. Callbacks run on the loop; a callback may call client::close() but must not
// free the client: a client is freed only after on_closed.
class client_owner {
 public:
  virtual ~client_owner() = default;
  virtual void on_connected(client& c) = 0;  // the CONNECT reply 40{"sid":..} arrived
  virtual void on_connect_failed(client& c, std::string reason) = 0;  // before connected
  virtual void on_dropped(client& c, std::string reason) = 0;         // after connected
  // 42["chat",<args>]: `args` is the text after `["chat",` up to the end of the packet.
  virtual void on_chat(client& c, std::string_view args) = 0;
  virtual void on_ack(client& c) = 0;  // 43<id>[..]
  // The handle is closed; the client may be freed. Follows every start() that created a handle
  // (has_handle() true), never one that failed before.
  virtual void on_closed(client& c) = 0;
};

// What every client of one generator shares.
struct client_context {
  uv_loop_t* loop = nullptr;
  client_owner* owner = nullptr;
  const options* opts = nullptr;
  char* read_buffer = nullptr;  // one buffer for all reads: each read is parsed before the next
  size_t read_buffer_size = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;  // WebSocket masks and keys; not security relevant

  uint32_t random32();
};

class client final : private ws::frame_handler {
 public:
  enum class state : uint8_t {
    idle,            // not started
    tcp_connecting,
    upgrading,       // HTTP request sent, waiting for 101
    eio_opening,     // waiting for the Engine.IO open packet
    sio_connecting,  // `40` sent, waiting for the CONNECT reply
    connected,
    closing,         // uv_close called
    closed,
  };

  // `index` names the client (userId u<index>); `room` is its room's number.
  client(client_context& ctx, uint32_t index, uint32_t room, const target& to,
         const sockaddr_storage* from);
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Starts connecting; failures (also immediate ones) arrive as on_connect_failed.
  void start(uint64_t now_us);
  // Fails the handshake with a timeout if it is still running at `now_us` past its deadline.
  void check_timeout(uint64_t now_us);
  // Sends one Engine.IO text packet (e.g. `42[...]`) in a masked frame. Ignored unless connected.
  void send_text(std::string_view packet);
  // Closes the connection (a WebSocket close frame first when connected) without reporting a
  // failure. Safe to call in any state and more than once.
  void close();
  // Ends the connection because of `reason`, reported as on_connect_failed while handshaking or
  // on_dropped once connected; nothing when idle or already closing.
  void fail(std::string reason);
  // Whether a libuv handle exists (on_closed is still to come for it).
  bool has_handle() const { return handle_open_; }

  state current() const { return state_; }
  bool connected() const { return state_ == state::connected; }
  bool handshaking() const {
    return state_ == state::tcp_connecting || state_ == state::upgrading ||
           state_ == state::eio_opening || state_ == state::sio_connecting;
  }
  uint32_t index() const { return index_; }
  uint32_t room() const { return room_; }
  // Bytes written but not yet accepted by the kernel.
  size_t write_backlog() const { return write_backlog_; }

  // Free for the owner's bookkeeping (e.g. its slot in the owner's tables).
  uint32_t tag = UINT32_MAX;

 private:
  struct write_req;

  static void on_tcp_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);

  void send_upgrade_request();
  void on_bytes(std::span<char> data);
  void on_handshake_bytes(std::string_view data);
  void on_engineio(std::string_view packet);
  void on_socketio(std::string_view packet);
  void write_raw(std::string_view bytes);
  void write_frame(ws::opcode op, std::string_view payload);
  void close_handle();

  bool on_message(ws::opcode op, std::string_view payload) override;
  bool on_ping(std::string_view payload) override;
  bool on_pong(std::string_view payload) override;
  bool on_close(uint16_t code, std::string_view reason) override;

  client_context& ctx_;
  const target& to_;
  const sockaddr_storage* from_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  ws::frame_parser frames_;  // role::client: the server's unmasked frames
  std::string handshake_;  // the response head while upgrading; the expected accept key before
  uint64_t deadline_us_ = 0;
  size_t write_backlog_ = 0;
  uint32_t index_;
  uint32_t room_;
  state state_ = state::idle;
  bool handle_open_ = false;
};

}  // namespace chatd::bench
