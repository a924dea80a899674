#pragma once
// One Socket.IO socket: a namespace joined on an Engine.IO session (worker/session.h). A session
// holds one per namespace its client has connected to; each has its own id, CONNECT payload,
// verified user, rate bucket and application, and what it sends goes out on the session's
// transport with its namespace on every packet. The application sees it as a member.
//
// Lifetime: made by the session for a CONNECT, in the application from on_connect to
// on_disconnect (`joined`), then `gone`; the session frees a gone socket only from its own
// stack (the next CONNECT of that namespace, or the session's end), so a caller that made it
// leave (an application's disconnect(), a bus request) may still hold it until it returns.

#include "common/token_bucket.h"
#include "worker/member.h"
#include "worker/namespace_table.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatd {

class session;

class sio_socket final : public member {
 public:
  enum class phase : uint8_t { joined, refused, gone };

  sio_socket(session& owner, const namespace_entry& ns, std::string_view sid, std::string auth_json,
             std::string user_id);
  ~sio_socket() = default;

  const namespace_entry& ns() const { return ns_; }
  phase current_phase() const { return phase_; }
  bool joined() const { return phase_ == phase::joined; }
  // The socket leaves its namespace (either side's DISCONNECT, or the session's end): the
  // application lets go of it. Nothing is sent.
  void leave();
  // limits.message_rate of its namespace: whether this EVENT may go to the application; over
  // the rate it is dropped (the client told once per run over it) or the socket disconnected.
  bool within_message_rate(uint64_t now);

  // member
  std::string_view id() const override { return {sid_.data(), sid_.size()}; }
  std::string_view nsp() const override { return ns_.name; }
  std::string_view query_json() const override;
  std::string_view channel() const override;
  bool has_channel() const override;
  bool send(const shared_bytes& frame) override;
  void accept_connect() override;
  void accept_connect(std::string_view pid) override;
  bool restore_id(std::string_view sid) override;
  void refuse_connect(std::string_view message) override;
  const handshake_record& handshake() const override;
  std::string_view auth_json() const override {
    return auth_json_.empty() ? std::string_view("{}") : std::string_view(auth_json_);
  }
  std::string_view user_id() const override { return user_id_; }
  void disconnect(bool close) override;

 private:
  session& owner_;
  const namespace_entry& ns_;
  std::array<char, 20> sid_{};
  std::string auth_json_;  // the CONNECT payload; empty when it had none
  std::string user_id_;    // auth on: the token's verified user
  phase phase_ = phase::joined;
  bool rate_told_ = false;  // the client got the "rate limited" error since it was last under it
  token_bucket message_rate_;
};

}  // namespace chatd
