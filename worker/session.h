#pragma once
// One Engine.IO session and the Socket.IO sockets on it, one per namespace its client joined
// (worker/sio_socket.h): the heartbeat, the packet state machine (Engine.IO framing, Socket.IO
// CONNECT/EVENT/DISCONNECT rules) and the hand-off of each namespace's events to the
// application serving it (worker/namespace_table.h). The transport under it is a WebSocket
// connection or HTTP long-polling, and a polling session may upgrade to WebSocket (probe, then "5").
//
// Sending is transport-independent: send() hands the shared, pre-framed WebSocket frame to the
// session's transport, a WebSocket connection or the session's own poll_transport
// (worker/poll_transport.h), which keeps it until a GET takes it: a broadcast is framed once
// whatever its recipients' transports.
//
// Lifetime: every session is owned by the worker's session_registry from its handshake on. A
// WebSocket session ends when its connection closes; a polling session by its close packet, a
// transport error or a timeout. end() lets every socket leave its namespace, cancels the
// heartbeat and retires the session; the registry frees it at the next prepare, when no call
// stack can still hold it.
//
// State (one variable, changed only by set_state(), which checks the transition):
//   handshaking -> connected     a Socket.IO CONNECT was accepted: one socket has joined
//   connected   -> handshaking   the last socket left (the client's DISCONNECT, or a server-side
//                                disconnect): a CONNECT may follow, within connect_timeout
//   handshaking|connected -> closing  a WebSocket session failed: its close frame is on the way
//                                     and the connection's close ends it
//   any -> closed                end(): sockets out of their namespaces, timers off, retired
// An upgrade (polling -> WebSocket) runs beside the state, since a socket may upgrade whether
// or not it has joined a namespace yet: transport() tells polling / upgrading (a WebSocket
// probing) / websocket, and the upgrade's steps are begin_upgrade, on_probe_text,
// finish_upgrade and drop_probe.
//
// Applications see the sockets only as members (worker/member.h), never the session.
//
// A raw echo session (engineio.echo_path, the engine.io-protocol suite's reference server) has no
// Socket.IO layer: its message packets go back to its sender (echo_back), text or binary, no
// CONNECT is awaited (no connect_timeout), and it never leaves `handshaking`.

#include "common/socketio.h"
#include "common/token_bucket.h"
#include "worker/frame.h"
#include "worker/member.h"
#include "worker/poll_transport.h"
#include "worker/sio_socket.h"
#include "worker/session_context.h"
#include "worker/timer_wheel.h"

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class transport;

// The heartbeat and deadlines run on the worker's timer wheel: the session is its own node.
class session final : private timer_node {
 public:
  enum class state : uint8_t { handshaking, connected, closing, closed };
  enum class transport_kind : uint8_t { none, polling, upgrading, websocket };

  // The one way to make a session: created, owned by ctx.registry, and open (its open packet
  // queued, its heartbeat running). `ws` is the WebSocket transport, or nullptr for a session
  // opened by a polling handshake. `raw_echo`: a raw Engine.IO session (engineio.echo_path) with
  // no Socket.IO layer: each message packet goes back to its sender, no CONNECT is awaited.
  static session& create(session_context& ctx, transport* ws, std::string query_json,
                         std::string channel, bool has_channel, handshake_record hs = {},
                         bool raw_echo = false);
  ~session();

  // A WebSocket message on `t`: the session's transport, or the probe of its upgrade.
  void on_ws_message(transport& t, bool text, std::string_view payload);
  // `t` is going away (its connection closed, or a polling GET's did): the transport's end ends
  // the session, a probe's end the upgrade.
  void transport_gone(transport& t);
  // A buffering transport (polling) refused a frame over max_backpressure, maybe inside a
  // broadcast walking our room: the session ends from its timer instead.
  void transport_overflow(transport& t);
  // The worker is over limits.max_output_memory and `t` (polling) holds the most: the session
  // ends from its timer, as for transport_overflow.
  void output_budget_exceeded(transport& t);
  // The loop's clock (ms), for a transport's bookkeeping.
  uint64_t now() const { return uv_now(ctx_.loop); }
  // An Engine.IO packet arrived as a text message (WebSocket) or in a POST body.
  void on_text(std::string_view packet);
  // A WebSocket binary message: a Socket.IO attachment.
  void on_binary(std::string_view data);
  // The transport is gone (or going): leave the room, stop timers, free this later.
  void end();
  // The pong deadline has passed though the wheel (a tick coarse) has not fired yet: the session
  // fails now ("ping timeout"), as engine.io's exact timer would have closed it. True when the
  // session is closing or closed: a request naming its sid finds no session (400, code 1).
  bool expire_if_overdue();


  bool polling() const { return state_ != state::closed && poll_ != nullptr && conn_ == poll_.get(); }
  bool ended() const { return state_ == state::closed; }
  state current_state() const { return state_; }
  transport_kind current_transport() const;
  // A GET arrived on `g`: the polling transport that now holds it, or nullptr (and the session
  // ends) when another GET is held already: the caller answers 400.
  poll_transport* attach_poll(held_get& g);
  // A POST body: packets joined by '\x1e'.
  void on_poll_data(std::string_view payload);

  // Upgrade: `ws` completed the WebSocket handshake carrying this sid. False if the session
  // cannot upgrade (not polling, or another probe in progress).
  bool begin_upgrade(transport& ws);

  std::string_view eio_sid() const { return {eio_sid_.data(), eio_sid_.size()}; }
  // The id of the socket on "/", empty unless it has joined (tests, logs).
  std::string_view sio_sid() const;
  // The joined socket on `nsp`, or nullptr.
  sio_socket* socket(std::string_view nsp);
  bool connected() const { return state_ == state::connected; }
  bool raw_echo() const { return raw_echo_; }

  // What every socket of the session shares: its handshake.
  std::string_view query_json() const { return query_json_; }
  std::string_view channel() const { return channel_; }
  bool has_channel() const { return has_channel_; }
  const handshake_record& handshake() const { return hs_; }
  // Queues a pre-framed WebSocket frame on the transport. False when it refused it.
  bool send(const shared_bytes& frame);

  // For sio_socket: `s` has left its namespace (server-side disconnect); close the session
  // (after a DISCONNECT it sent); count a dropped event.
  void socket_left(sio_socket& s);
  void close_for(std::string_view why) { fail(ws::close_code::normal, why); }
  void count_rate_dropped();

 private:
  session(session_context& ctx, transport* ws, std::string query_json, std::string channel,
          bool has_channel, handshake_record hs, bool raw_echo);
  // A raw echo session's message packet (text: the whole packet; binary: its bytes), sent back.
  void echo_back(bool text, std::string_view packet);
  void on_probe_text(std::string_view packet);
  // Lets the probe go and closes it (refused, failed or timed out).
  void drop_probe();
  // Ends the session from its timer (now, outside the caller's loop), taking nothing more.
  void doom();
  void open();
  void set_state(state next);
  void on_socketio(std::string_view text);
  void on_connect_packet(std::string_view nsp, std::string_view auth);
  // `s` leaves its namespace (either side's DISCONNECT): with no socket left the session is
  // back to handshaking, and a CONNECT may follow.
  void leave_namespace(sio_socket& s);
  void on_event(sio_socket& s, std::string_view data, int64_t ack_id);
  void finish_binary();
  // Frees the sockets that have left (from the session's own stack only: see sio_socket.h).
  void sweep_sockets();
  void fail(uint16_t ws_code, std::string_view why);
  void finish_upgrade();
  void arm_timer();
  void on_timer();

 public:
  // The worker's timer wheel calls this for a session's node.
  static void timer_fired(timer_node& node, void* ctx) noexcept;

 private:

  session_context& ctx_;
  // The transport: a WebSocket connection, or poll_ while polling; nullptr once ended.
  transport* conn_;
  // Only a session opened by a polling handshake has one, until its upgrade completes.
  std::unique_ptr<poll_transport> poll_;
  // The Engine.IO id lives inline: an idle session should cost no heap allocation it can avoid.
  std::array<char, 20> eio_sid_{};
  // One per namespace joined (and, until swept, those that left); usually one.
  std::vector<std::unique_ptr<sio_socket>> sockets_;
  std::string query_json_;
  std::string channel_;
  bool has_channel_;
  handshake_record hs_;
  state state_ = state::handshaking;
  bool awaiting_pong_ = false;
  uint64_t next_ping_at_ = 0;
  uint64_t pong_deadline_ = 0;
  bool pong_deadline_extended_ = false;  // a packet while awaiting the pong moved it (once)
  uint64_t connect_deadline_ = 0;
  uint64_t upgrade_deadline_ = 0;
  // The upgrade: the WebSocket probing (it answered "2probe" once poll_ answers GETs at once).
  transport* probe_ = nullptr;
  bool doomed_ = false;  // over its bound inside a broadcast: ended from the timer
  const bool raw_echo_;  // engineio.echo_path: message packets go back, no Socket.IO layer
  // A BINARY_EVENT waiting for its attachments; allocated only while one is in progress.
  struct binary_state {
    sio::packet_type type = sio::packet_type::binary_event;
    std::string head;
    std::vector<std::string> parts;
    uint32_t expected = 0;
  };
  std::unique_ptr<binary_state> binary_;
};

}  // namespace chatd
