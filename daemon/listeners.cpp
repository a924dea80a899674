// Listening sockets and their SO_REUSEPORT group: open, grow, retire, steer.

#include "daemon/listeners.h"

#include "common/log.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chatd {
namespace {

std::string sys_error(const listen_endpoint& ep, const char* call, int err) {
  std::string hint;
  if (err == EADDRINUSE) {
    hint = " (another process listens on this port without SO_REUSEPORT, or as another user)";
  } else if (err == EACCES) {
    hint = " (ports below 1024 need CAP_NET_BIND_SERVICE)";
  } else if (err == EADDRNOTAVAIL) {
    hint = " (no local interface has this address)";
  }
  return fmt::format("listen {}: {}: {}{}", ep.describe(), call, strerror(err), hint);
}

int set_int_option(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

int attach_program(int fd, sock_filter* code, unsigned short len) {
  sock_fprog prog{len, code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace

std::string listen_endpoint::describe() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

expected<int, std::string> open_listener(const listen_endpoint& ep, int backlog) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ep.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(ep.port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ep.address.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(ep.port);
    len = sizeof *v6;
  } else {
    return unexpected(fmt::format("listen {}: not an IPv4 or IPv6 address", ep.describe()));
  }

  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(sys_error(ep, "socket", errno));
  const char* failed = nullptr;
  // SO_REUSEADDR lets a restarted chatd bind while old connections sit in TIME_WAIT.
  if (set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
    failed = "setsockopt(SO_REUSEADDR)";
  } else if (set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) {
    failed = "setsockopt(SO_REUSEPORT)";
  } else if (family == AF_INET6 && set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0) != 0) {
    failed = "setsockopt(IPV6_V6ONLY)";
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    failed = "bind";
  } else if (listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed) {
    int err = errno;
    close(fd);
    return unexpected(sys_error(ep, failed, err));
  }
  return fd;
}

int accept_queue_length(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
  // For a socket in LISTEN state the kernel reports the accept queue's length here.
  return static_cast<int>(info.tcpi_unacked);
}

expected<std::unique_ptr<listener_group>, std::string> listener_group::open(
    const listen_endpoint& ep, size_t count, int backlog) {
  std::unique_ptr<listener_group> group(new listener_group(ep));
  auto grown = group->resize(count, backlog);
  if (!grown) return unexpected(grown.error());
  return group;
}

listener_group::~listener_group() {
  while (!fds_.empty()) {
    close(fds_.back());
    fds_.pop_back();
  }
}

bool listener_group::is_retiring(int fd) const {
  for (size_t i = active_; i < fds_.size(); ++i) {
    if (fds_[i] == fd) return true;
  }
  return false;
}

expected<size_t, std::string> listener_group::resize(size_t count, int backlog) {
  size_t before = fds_.size();
  while (fds_.size() < count) {
    auto fd = open_listener(ep_, backlog);
    if (!fd) {
      // Undo from the end, which leaves the kernel's order of the others as it was.
      while (fds_.size() > before) {
        close(fds_.back());
        fds_.pop_back();
      }
      return unexpected(fd.error());
    }
    fds_.push_back(*fd);
  }
  size_t opened = fds_.size() - before;
  // listen() on a listening socket only updates its backlog; sockets taken back get it too.
  for (size_t i = 0; i < std::min(count, before); ++i) {
    if (listen(fds_[i], backlog) != 0) {
      log::warn("listen {}: cannot update the backlog: {}", ep_.describe(), strerror(errno));
    }
  }
  bool changed = count != active_;
  active_ = count;
  if (changed && active_ > 0) steer();
  return opened;
}

void listener_group::steer() {
  // Classic BPF: A = random; A %= active; return A. Random rather than the packet hash: on
  // loopback skb->hash is often 0, which would send everything to socket 0. Per-connection
  // randomness is fine for TCP: only the SYN picks the listener.
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
      {BPF_ALU | BPF_MOD | BPF_K, 0, 0, static_cast<uint32_t>(active_)},
      {BPF_RET | BPF_A, 0, 0, 0},
  };
  if (int err = attach_program(fds_[0], code, 3); err != 0) {
    log::warn(
        "listen {}: cannot attach the reuseport steering program ({}); connections may still "
        "reach sockets being retired and be reset when they close",
        ep_.describe(), strerror(err));
  }
}

size_t listener_group::close_unheld_retiring(const std::function<bool(int)>& held) {
  size_t closed = 0;
  // Last first: closing index i moves the kernel's last socket into i, and the last is always
  // another retiring one, so the active prefix keeps its order.
  for (size_t i = fds_.size(); i-- > active_;) {
    if (held(fds_[i])) continue;
    close(fds_[i]);
    fds_[i] = fds_.back();
    fds_.pop_back();
    ++closed;
  }
  return closed;
}

int steer_all_to(int any_fd_of_group, uint32_t index) {
  sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, index}};
  return attach_program(any_fd_of_group, code, 1);
}

}  // namespace chatd
