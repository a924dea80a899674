#pragma once
// One Engine.IO session and its Socket.IO socket on namespace "/": the heartbeat, the packet
// state machine (Engine.IO framing, Socket.IO CONNECT/EVENT/DISCONNECT rules) and the hand-off of
// chat events to the gateway. The transport under it is a WebSocket connection.
//
// Lifetime: created by the connection on a successful handshake; ended by end(), which leaves the
// room and closes the heartbeat timer; the object is freed in that timer's close callback.

#include "worker/frame.h"

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class connection;
class server;

class session {
 public:
  session(server& srv, connection& conn, std::string query_json, std::string channel,
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

  // Queues a pre-framed WebSocket frame. False when the transport refused it (closing or over
  // its backpressure bound; the transport then closes itself).
  bool send(const shared_bytes& frame);

  const std::string& eio_sid() const { return eio_sid_; }
  const std::string& sio_sid() const { return sio_sid_; }
  const std::string& channel() const { return channel_; }
  const std::string& query_json() const { return query_json_; }
  bool connected() const { return connected_; }

  // Room membership, maintained by `rooms` only.
  struct room* room_ = nullptr;
  uint32_t room_index_ = 0;
  // Broadcast de-duplication stamp, used by the gateway only.
  uint64_t mark_ = 0;

 private:
  void on_socketio(std::string_view text);
  void on_connect_packet(std::string_view nsp);
  void on_event(std::string_view data, int64_t ack_id);
  void finish_binary();
  void fail(uint16_t ws_code, std::string_view why);
  void arm_timer();
  static void on_timer(uv_timer_t* t);

  server& srv_;
  connection* conn_;
  uv_timer_t timer_;
  std::string eio_sid_;
  std::string sio_sid_;
  std::string query_json_;
  std::string channel_;
  bool has_channel_;
  bool connected_ = false;
  bool awaiting_pong_ = false;
  bool ended_ = false;
  uint64_t next_ping_at_ = 0;
  uint64_t pong_deadline_ = 0;
  uint64_t connect_deadline_ = 0;
  // A BINARY_EVENT waiting for its attachments.
  std::string binary_head_;
  std::vector<std::string> binary_parts_;
  uint32_t binary_expected_ = 0;
};

}  // namespace chatd
