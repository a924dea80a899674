#pragma once
// The echo application: every event answered to its sender alone. What the published
// socket.io-protocol test suite expects of its reference server, and a load-test target that
// costs no Redis:
//   - on connect it emits `auth` with the CONNECT payload (socket.handshake.auth, {} if none);
//   - an event that asks for an ack gets the ack, carrying the event's arguments;
//   - any other event `<name>` is sent back as `<name>-back` with the same arguments (so
//     `message` is answered by `message-back`);
//   - binary arguments come back as binary attachments (a BINARY_EVENT or BINARY_ACK);
//   - the other direction: `emit-with-ack` (sent without an ack id) is emitted back to the client
//     with the same arguments and an ack id of the server's; the client's ACK to it is emitted
//     as `emit-with-ack-back` with the ACK's arguments (attachments too).
// Its only state is the acks it waits for, per socket, dropped when the socket leaves.

#include "worker/app.h"

#include <string>
#include <unordered_map>
#include <vector>

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
  void on_ack(member& m, int64_t ack_id, std::string_view args_json,
              std::vector<std::string> attachments) override;
  void on_disconnect(member& m) override;

 private:
  std::string ack_;  // the last ACK's arguments (valid until the next call, as app.h allows)
  int64_t next_ack_id_ = 0;
  // The acks each socket (by id) owes us; a client's ACK to any other id is ignored.
  std::unordered_map<std::string, std::vector<int64_t>> waiting_;
};

}  // namespace chatd
