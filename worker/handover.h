#pragma once
// Handing a client TCP connection to the worker that owns its Engine.IO session. Without sticky
// sessions SO_REUSEPORT spreads a session's HTTP requests over every worker; the sid names the
// owning slot, so the worker that read the request sends the connection itself (SCM_RIGHTS) and
// the bytes it already read to that slot, and the owner carries on as if it had accepted it.
//
// The master creates one AF_UNIX SOCK_SEQPACKET socketpair per slot before forking and keeps it
// like the listening sockets: end 0 is read by whichever process serves the slot (a respawned or
// reloaded worker inherits it), end 1 is written by every worker. One datagram = one connection:
// its bytes in the message, its descriptor in the control data.

#include "common/rate_limited.h"

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class handover {
 public:
  // Called with an adopted descriptor (the receiver owns it) and the bytes read before hand-over.
  using receive_fn = std::function<void(int fd, std::string bytes)>;
  // Largest message: a request head plus one read's worth of body.
  static constexpr size_t k_max_bytes = 128 * 1024;

  handover(uv_loop_t* loop, int recv_fd, std::vector<int> send_fds, receive_fn on_receive);
  ~handover();
  handover(const handover&) = delete;
  handover& operator=(const handover&) = delete;

  // Starts receiving on this slot's channel. 0 or a libuv error.
  int start();
  // Stops receiving (a retiring worker leaves the channel to its successor).
  void stop();
  bool can_send(unsigned slot) const;
  // Sends `fd` (the caller still closes its own copy) with `bytes` to `slot`: 0 or -errno.
  int send(unsigned slot, int fd, std::string_view bytes);

 private:
  static void on_poll(uv_poll_t* p, int status, int events) noexcept;
  void drain();

  uv_loop_t* loop_;
  log::rate_limited bad_log_;  // failed receives and malformed messages, one line per interval
  int recv_fd_;
  std::vector<int> send_fds_;
  receive_fn on_receive_;
  uv_poll_t* poll_ = nullptr;
  std::string buf_;
};

}  // namespace chatd
