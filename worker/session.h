#pragma once
// One Engine.IO session and its Socket.IO socket on namespace "/": the heartbeat, the packet
// state machine (Engine.IO framing, Socket.IO CONNECT/EVENT/DISCONNECT rules) and the hand-off of
// chat events to the gateway. The transport under it is a WebSocket connection or HTTP
// long-polling, and a polling session may upgrade to WebSocket (probe, then "5").
//
// Sending is transport-independent: send() takes the shared, pre-framed WebSocket frame. A
// WebSocket session queues it on its connection; a polling session keeps it in a pending list and
// the held GET answers with the payloads cut out of those frames (worker/poll_payload.h), so a
// broadcast is still framed once and shared whatever its recipients' transports.
//
// Lifetime: a WebSocket session is created by its connection's handshake and ended when that
// connection closes; a polling session is owned by the server's session table and ended by its
// close packet, a transport error or a timeout. end() leaves the room and cancels the heartbeat
// timer; the server frees the object at its next prepare, when no call stack can still hold it.

#include "worker/frame.h"
#include "worker/timer_wheel.h"

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class connection;
class server;

// The heartbeat and deadlines run on the worker's timer wheel: the session is its own node.
class session : private timer_node {
 public:
  // `ws` is the WebSocket connection, or nullptr for a session opened by a polling handshake.
  session(server& srv, connection* ws, std::string query_json, std::string channel,
          bool has_channel);
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Sends the open packet and starts the heartbeat.
  void open();
  // An Engine.IO packet arrived as a WebSocket text message.
  void on_text(std::string_view packet);
  // A WebSocket binary message: a Socket.IO attachment.
  void on_binary(std::string_view data);
  // The transport is gone (or going): leave the room, stop timers, free this later.
  void end();

  // Queues a pre-framed WebSocket frame (text or binary). False when the transport refused it
  // (closing or over its backpressure bound; the transport then closes itself).
  bool send(const shared_bytes& frame);

  // Long-polling (the connection side lives in connection_http.cpp).
  bool polling() const { return conn_ == nullptr && !ended_; }
  bool ended() const { return ended_; }
  // A GET: `c` holds it until there is something to send. False (and the session ends) when
  // another GET is already held: the caller answers 400.
  bool attach_poll(connection& c);
  // Something to answer the held GET with (packets, or the noop an upgrade needs).
  bool poll_ready() const { return !pending_.empty() || probed_; }
  // The held GET's payload; detaches the GET.
  std::string take_poll_payload();
  // The connection holding the GET went away: a transport error, as engine.io has it.
  void poll_closed(connection& c);
  // A POST body: packets joined by '\x1e'.
  void on_poll_data(std::string_view payload);

  // Upgrade: `ws` completed the WebSocket handshake carrying this sid. False if the session
  // cannot upgrade (not polling, or another probe in progress).
  bool begin_upgrade(connection& ws);
  // A text message on the probing WebSocket.
  void on_probe_text(connection& ws, std::string_view packet);
  void probe_closed(connection& ws);

  std::string_view eio_sid() const { return {eio_sid_.data(), eio_sid_.size()}; }
  // Empty until the Socket.IO CONNECT is accepted.
  std::string_view sio_sid() const { return {sio_sid_.data(), has_sio_sid_ ? sio_sid_.size() : 0}; }
  const std::string& channel() const { return channel_; }
  const std::string& query_json() const { return query_json_; }
  bool connected() const { return connected_; }

  // Room membership, maintained by `rooms` only.
  struct room* room_ = nullptr;
  uint32_t room_index_ = 0;
  // Broadcast de-duplication stamp, used by the gateway only.
  uint64_t mark_ = 0;
  // The CONNECT answer waits for the room's Redis subscription (the gateway's bookkeeping).
  bool connect_pending_ = false;
  // Sends `40{"sid":…}`, the answer to the client's CONNECT.
  void send_connect_reply();

 private:
  void on_socketio(std::string_view text);
  void on_connect_packet(std::string_view nsp);
  void on_event(std::string_view data, int64_t ack_id);
  void finish_binary();
  void fail(uint16_t ws_code, std::string_view why);
  void finish_upgrade();
  void arm_timer();
  void on_timer();

 public:
  // The worker's timer wheel calls this for a session's node.
  static void timer_fired(timer_node& node, void* ctx);

 private:

  server& srv_;
  connection* conn_;
  // Session ids live inline: an idle session should cost no heap allocation it can avoid.
  std::array<char, 20> eio_sid_{};
  std::array<char, 20> sio_sid_{};
  bool has_sio_sid_ = false;
  std::string query_json_;
  std::string channel_;
  bool has_channel_;
  bool connected_ = false;
  bool awaiting_pong_ = false;
  bool ended_ = false;
  uint64_t next_ping_at_ = 0;
  uint64_t pong_deadline_ = 0;
  uint64_t connect_deadline_ = 0;
  uint64_t upgrade_deadline_ = 0;
  // Polling: frames not yet delivered, the connection holding the GET, the WebSocket probing.
  std::vector<shared_bytes> pending_;
  size_t pending_bytes_ = 0;
  connection* poll_conn_ = nullptr;
  connection* probe_ = nullptr;
  bool probed_ = false;  // the probe answered "3probe": GETs return at once (noop if need be)
  bool doomed_ = false;  // over its bound inside a broadcast: ended from the timer
  // A BINARY_EVENT waiting for its attachments.
  // A BINARY_EVENT waiting for its attachments; allocated only while one is in progress.
  struct binary_state {
    std::string head;
    std::vector<std::string> parts;
    uint32_t expected = 0;
  };
  std::unique_ptr<binary_state> binary_;
};

}  // namespace chatd
