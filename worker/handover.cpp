// Connection hand-over between workers over the master's per-slot SEQPACKET channels.

#include "worker/handover.h"

#include "common/log.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace chatd {

handover::handover(uv_loop_t* loop, int recv_fd, std::vector<int> send_fds, receive_fn on_receive)
    : loop_(loop), recv_fd_(recv_fd), send_fds_(std::move(send_fds)), on_receive_(std::move(on_receive)) {}

handover::~handover() { stop(); }

int handover::start() {
  if (recv_fd_ < 0 || poll_ != nullptr) return 0;
  poll_ = new uv_poll_t;
  int r = uv_poll_init_socket(loop_, poll_, recv_fd_);
  if (r != 0) {
    delete poll_;
    poll_ = nullptr;
    return r;
  }
  poll_->data = this;
  r = uv_poll_start(poll_, UV_READABLE, &handover::on_poll);
  // Waiting for hand-overs must not keep a draining worker's loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return r;
}

void handover::stop() {
  if (poll_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
}

bool handover::can_send(unsigned slot) const {
  return slot < send_fds_.size() && send_fds_[slot] >= 0;
}

int handover::send(unsigned slot, int fd, std::string_view bytes) {
  if (!can_send(slot)) return -EINVAL;
  if (bytes.size() > k_max_bytes) return -EMSGSIZE;
  // A hand-over always carries at least the request head (and a datagram needs a byte to
  // carry control data at all).
  if (bytes.empty()) return -EINVAL;
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(send_fds_[slot], &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

void handover::on_poll(uv_poll_t* p, int status, int) noexcept {
  auto* h = static_cast<handover*>(p->data);
  if (status < 0) {
    log::warn("hand-over channel: {}", uv_strerror(status));
    return;
  }
  h->drain();
}

void handover::drain() {
  if (buf_.size() < k_max_bytes + 1) buf_.resize(k_max_bytes + 1);
  // Bounded per wake-up so a flood of hand-overs cannot starve the loop.
  for (int i = 0; i < 64 && poll_ != nullptr; ++i) {
    iovec iov{buf_.data(), buf_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(recv_fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        const int err = errno;
        bad_log_(uv_now(loop_), [&](uint64_t suppressed) {
          log::warn("hand-over recvmsg: {} ({} more suppressed)", strerror(err), suppressed);
        });
      }
      return;
    }
    int fd = -1;
    int extra = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; ++k) {
        int got;
        std::memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        if (fd < 0) {
          fd = got;
        } else {
          ::close(got);
          ++extra;
        }
      }
    }
    if (fd < 0) {
      bad_log_(uv_now(loop_), [](uint64_t suppressed) {
        log::warn("hand-over message without a descriptor: dropped ({} more suppressed)",
                  suppressed);
      });
      continue;
    }
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || extra > 0) {
      bad_log_(uv_now(loop_), [](uint64_t suppressed) {
        log::warn("hand-over message truncated: connection dropped ({} more suppressed)",
                  suppressed);
      });
      ::close(fd);
      continue;
    }
    on_receive_(fd, std::string(buf_.data(), static_cast<size_t>(n)));
  }
}

}  // namespace chatd
