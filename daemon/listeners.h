#pragma once
// The listening sockets, owned by the master. One SO_REUSEPORT socket per worker slot, all bound
// to one address; the kernel spreads incoming connections over the group. The master keeps its
// copy of every socket, so a socket outlives the worker that accepts on it (respawn, reload) and
// no connection waiting in an accept queue is lost by closing a listener.
//
// The group's order matters: a reuseport steering program returns an index into the kernel's
// array of the group's sockets, which is listen() order, and closing a socket moves the last one
// into its place. So sockets are only ever added at the end and retired from the end, and this
// class mirrors the kernel's array exactly: index i here is index i there.

#include "common/expected.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chatd {

struct listen_endpoint {
  std::string address;  // IPv4 or IPv6 literal
  uint16_t port = 0;

  bool operator==(const listen_endpoint&) const = default;
  // "0.0.0.0:8000" or "[::]:8000".
  std::string describe() const;
};

// Opens one listening socket: SO_REUSEADDR + SO_REUSEPORT, IPV6_V6ONLY off (so "::" takes IPv4
// too), bind, listen. Close-on-exec and non-blocking. The error names the endpoint and the call.
expected<int, std::string> open_listener(const listen_endpoint& ep, int backlog);

// Connections waiting in a listening socket's accept queue (TCP_INFO of a listener reports it).
// -1 if it cannot be read.
int accept_queue_length(int fd);

class listener_group {
 public:
  // Opens `count` sockets on `ep`. Fails (closing what it opened) if any bind or listen fails.
  static expected<std::unique_ptr<listener_group>, std::string> open(const listen_endpoint& ep,
                                                                     size_t count, int backlog);
  ~listener_group();
  listener_group(const listener_group&) = delete;
  listener_group& operator=(const listener_group&) = delete;

  const listen_endpoint& endpoint() const { return ep_; }
  // Sockets new connections are steered to: indexes [0, active()).
  size_t active() const { return active_; }
  // Sockets still open: the active ones, then retiring ones a worker may still accept on.
  size_t size() const { return fds_.size(); }
  int fd(size_t index) const { return fds_[index]; }
  // True when `fd` is one of this group's retiring sockets (index >= active()).
  bool is_retiring(int fd) const;

  // Makes `count` sockets active. Growing takes back retiring sockets still open (they are next
  // in the kernel's order) and opens the rest at the end; shrinking marks the tail as retiring.
  // Either way new connections are then steered to the active ones only. A new backlog is
  // applied to every active socket. On failure nothing changes. count == 0 retires them all
  // (the group's address is no longer configured): nothing is steered.
  expected<size_t, std::string> resize(size_t count, int backlog);

  // Closes retiring sockets that no live worker holds (`held(fd)` false), last first.
  // Returns how many were closed.
  size_t close_unheld_retiring(const std::function<bool(int)>& held);

 private:
  explicit listener_group(listen_endpoint ep) : ep_(std::move(ep)) {}
  // Attaches a classic BPF program to the group that returns random % active_.
  void steer();

  listen_endpoint ep_;
  std::vector<int> fds_;  // kernel group order
  size_t active_ = 0;
};

// Attaches "return index" as the group's reuseport program: every new connection goes to the
// socket at `index` in the kernel's order. For tests of the order; returns errno or 0.
int steer_all_to(int any_fd_of_group, uint32_t index);

}  // namespace chatd
