#pragma once
// A Socket.IO application: what runs on a namespace once a socket has connected. The session
// (Engine.IO framing, heartbeat, Socket.IO packet rules) calls it with members (worker/member.h)
// and already-validated events; the application decides what to deliver to whom. chat.h is the
// seed's gateway; a new namespace application implements this interface.

#include "common/socketio.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class member;

class app {
 public:
  virtual ~app() = default;

  // A CONNECT to the namespace was accepted by the session. The application answers it with
  // m.accept_connect(), at once or later (chat waits for the room's Redis subscription), unless
  // the member disconnects first.
  virtual void on_connect(member& m) = 0;
  // What an event's ACK carries, when the client asked for one: its arguments as a JSON array,
  // valid until the application is called again (the session frames it at once); nullopt: no
  // ACK (an event the application has no handler for, as socket.io leaves it unanswered).
  using ack_args = std::optional<std::string_view>;
  // An EVENT: its name and its first argument as JSON text (empty when there is none).
  virtual ack_args on_event(member& m, std::string_view name, std::string_view first_arg_json) = 0;
  // The same with every argument (ev.args) and the client's ack id (-1: none): what the session
  // calls. An application that needs more than the first argument (echo) overrides this one; it
  // may also answer the ACK itself (a binary one, say) and return nullopt.
  virtual ack_args on_event(member& m, const sio::event_args& ev, int64_t ack_id) {
    (void)ack_id;
    return on_event(m, ev.name, ev.first_arg);
  }
  // A BINARY_EVENT whose attachments have all arrived; `first_arg_json` keeps its placeholders.
  virtual ack_args on_binary_event(member& m, std::string_view name,
                                   std::string_view first_arg_json,
                                   std::vector<std::string> attachments) = 0;
  // The same with every argument (placeholders kept) and the ack id: what the session calls.
  virtual ack_args on_binary_event(member& m, const sio::event_args& ev, int64_t ack_id,
                                   std::vector<std::string> attachments) {
    (void)ack_id;
    return on_binary_event(m, ev.name, ev.first_arg, std::move(attachments));
  }
  // The client answered an ACK the server asked for (a packet sent with an ack id): its
  // arguments as a JSON array, with their Buffers as attachments (placeholders in the JSON).
  virtual void on_ack(member& m, int64_t ack_id, std::string_view args_json,
                      std::vector<std::string> attachments) {
    (void)m, (void)ack_id, (void)args_json, (void)attachments;
  }
  // The socket left the namespace (client DISCONNECT, a server-side disconnect, or the
  // transport is gone). After this the application must hold no reference to `m`.
  virtual void on_disconnect(member& m) = 0;
};

}  // namespace chatd
