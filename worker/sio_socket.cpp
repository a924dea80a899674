// See sio_socket.h.

#include "worker/sio_socket.h"

#include "common/assert.h"
#include "common/socketio.h"
#include "worker/app.h"
#include "worker/session.h"

#include <fmt/format.h>

#include <cstring>

namespace chatd {

sio_socket::sio_socket(session& owner, const namespace_entry& ns, std::string_view sid,
                       std::string auth_json, std::string user_id)
    : owner_(owner), ns_(ns), auth_json_(std::move(auth_json)), user_id_(std::move(user_id)) {
  CHATD_ASSERT(sid.size() == sid_.size(), "a socket id of the wrong length");
  std::memcpy(sid_.data(), sid.data(), sid_.size());
}

std::string_view sio_socket::query_json() const { return owner_.query_json(); }
std::string_view sio_socket::channel() const { return owner_.channel(); }
bool sio_socket::has_channel() const { return owner_.has_channel(); }
const handshake_record& sio_socket::handshake() const { return owner_.handshake(); }

bool sio_socket::send(const shared_bytes& frame) {
  if (phase_ != phase::joined) return false;
  return owner_.send(frame);
}

void sio_socket::accept_connect() {
  if (ns_.name == "/") {
    send(make_text_frame({sio::connect_reply_head, id(), sio::connect_reply_tail}));
    return;
  }
  send(make_text_frame({sio::encode_connect_reply(ns_.name, id())}));
}

void sio_socket::accept_connect(std::string_view pid) {
  send(make_text_frame({sio::encode_connect_reply(ns_.name, id(), pid)}));
}

bool sio_socket::restore_id(std::string_view sid) {
  // The session knows its sockets by namespace, never by sid: only this copy changes.
  if (sid.size() != sid_.size()) return false;
  std::memcpy(sid_.data(), sid.data(), sid_.size());
  return true;
}

void sio_socket::refuse_connect(std::string_view message) {
  CHATD_ASSERT(phase_ == phase::joined, "a CONNECT refused twice");
  owner_.send(make_text_frame({sio::encode_connect_error(ns_.name, message)}));
  phase_ = phase::refused;  // the session frees it once on_connect returns
}

void sio_socket::leave() {
  if (phase_ != phase::joined) return;
  phase_ = phase::gone;
  ns_.application->on_disconnect(*this);
}

void sio_socket::disconnect(bool close) {
  if (phase_ != phase::joined) return;
  owner_.send(make_text_frame({sio::encode_disconnect(ns_.name)}));
  owner_.socket_left(*this);
  // The close follows the DISCONNECT on the same transport, so the client reads it first.
  if (close) owner_.close_for("server disconnect");
}

bool sio_socket::within_message_rate(uint64_t now) {
  const uint32_t rate = ns_.message_rate;
  const uint32_t burst = ns_.message_burst;
  // One `error` per run over the limit: a run ends once the client has stayed under the rate
  // long enough to fill its bucket again (not at the next event the bucket lets through, which
  // would tell a sender that stays over the rate about every 1/rate seconds).
  if (rate_told_ && message_rate_.full(now, rate, burst)) rate_told_ = false;
  if (message_rate_.take(now, rate, burst)) return true;
  owner_.count_rate_dropped();
  if (!rate_told_ || ns_.message_rate_disconnect) {
    rate_told_ = true;
    send(make_text_frame({sio::event_head(ns_.name, "error"),
                          fmt::format(R"({{"message":"rate limited","limit":{},"burst":{},"action":"{}"}})",
                                      rate, burst, ns_.message_rate_disconnect ? "disconnect" : "drop"),
                          sio::event_tail}));
  }
  if (ns_.message_rate_disconnect) disconnect(true);
  return false;
}

}  // namespace chatd
