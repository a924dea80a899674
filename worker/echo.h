#pragma once
// The echo application: every event answered to its sender alone. What the published
// socket.io-protocol test suite expects of its reference server, and a load-test target that
// costs no Redis:
//   - on connect it emits `auth` with the CONNECT payload (socket.handshake.auth, {} if none);
//   - an event that asks for an ack gets the ack, carrying the event's arguments;
//   - any other event `<name>` is sent back as `<name>-back` with the same arguments (so
//     `message` is answered by `message-back`);
//   - binary arguments come back as binary attachments (a BINARY_EVENT or BINARY_ACK).
// It keeps no state: nothing to clean up when a socket leaves.

#include "worker/app.h"

#include <string>

namespace chatd {

class echo final : public app {
 public:
  echo() = default;

  void on_connect(member& m) override;
  ack_args on_event(member& m, std::string_view name, std::string_view first_arg_json) override;
  ack_args on_event(member& m, const sio::event_args& ev, int64_t ack_id) override;
  ack_args on_binary_event(member& m, std::string_view name, std::string_view first_arg_json,
                           std::vector<std::string> attachments) override;
  ack_args on_binary_event(member& m, const sio::event_args& ev, int64_t ack_id,
                           std::vector<std::string> attachments) override;
  void on_disconnect(member& m) override { (void)m; }

 private:
  std::string ack_;  // the last ACK's arguments (valid until the next call, as app.h allows)
};

}  // namespace chatd
