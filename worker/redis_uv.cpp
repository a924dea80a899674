// Our hiredis event adapter on libuv. hiredis 0.14's adapters/libuv.h ignores poll errors (a
// refused connect then hangs forever), has no connect timeout and leaks on a failed attach; this
// one drives one uv_poll_t per connection, bounds connecting with a uv_timer_t, turns poll errors
// into a disconnect with the reason, and resolves host names off the loop (uv_getaddrinfo) so a
// slow DNS never blocks a worker.
//
// Lifetimes. One connection attempt owns one `redis_io`: the poll and timer handles, the
// resolver request and the hiredis context. The io outlives the context: hiredis calls our
// cleanup hook from inside redisAsyncFree / a disconnect, *before* it runs the disconnect
// callback and frees the context, and handles may only be freed in their uv_close callbacks, a
// loop iteration later. So the cleanup hook only starts closing; the io is deleted when the last
// handle has closed and no resolver request is outstanding. The link and the io point at each
// other until one of them lets go ("detach"); after that, nothing the io sees reaches the link.
//
// Re-entrancy. hiredis must not free a context while it is running code of that context:
//   - inside a reply callback (REDIS_IN_CALLBACK), redisAsyncFree defers itself: we call it;
//   - inside the connect/disconnect callbacks (no flag in 0.14) we are under our own poll
//     callback (`dispatching`): the free is done once redisAsyncHandleRead/Write has returned.

#include "worker/redis_uv.h"

#include "common/log.h"
#include "worker/net_address.h"
#include "worker/resp_reader.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <string>
#include <utility>

namespace chatd {

struct redis_io {
  redis_link* link = nullptr;        // null once the link let go of this attempt
  redisAsyncContext* ctx = nullptr;  // null before hiredis connects and once it has freed it
  uv_poll_t poll{};
  uv_timer_t timer{};                // connect timeout; also reports failures found synchronously
  uv_getaddrinfo_t resolver{};
  int open_handles = 0;
  int events = 0;                    // UV_READABLE / UV_WRITABLE hiredis asked for
  int polled = 0;                    // what the poll handle watches now
  bool poll_open = false;
  bool resolving = false;
  bool closing = false;
  bool dispatching = false;          // inside redisAsyncHandleRead/Write
  bool free_requested = false;       // free the context once dispatching ends
  std::string pending_error;         // reported by the timer instead of a timeout
  reply_budget budget;               // the context's reader's (see resp_reader.h)
};

// Reads of hiredis' 16 KiB buffer per readable event, at most.
constexpr int k_max_read_rounds = 16;

struct redis_uv_access {
  // ------------------------------------------------------------------ helpers

  static std::string where(const redis_link& l) {
    if (!l.endpoint_.unix_path.empty()) {
      return "unix:" + l.endpoint_.unix_path;
    }
    if (l.endpoint_.host.find(':') != std::string::npos) {
      return fmt::format("[{}]:{}", l.endpoint_.host, l.endpoint_.port);
    }
    return fmt::format("{}:{}", l.endpoint_.host, l.endpoint_.port);
  }

  // Breaks the link <-> io pair; returns the link that was attached (or nullptr).
  static redis_link* detach(redis_io* io) {
    redis_link* l = io->link;
    if (l != nullptr) {
      l->state_ = redis_link::state::idle;
      l->ctx_ = nullptr;
      l->io_ = nullptr;
    }
    io->link = nullptr;
    return l;
  }

  static void maybe_delete(redis_io* io) {
    if (io->closing && io->open_handles == 0 && !io->resolving) {
      delete io;
    }
  }

  static void on_handle_closed(uv_handle_t* h) noexcept {
    auto* io = static_cast<redis_io*>(h->data);
    --io->open_handles;
    if (io->open_handles == 0 && io->link != nullptr) {
      // hiredis freed the context without a connect or disconnect callback: say so now.
      report_down(detach(io), "connection freed");
    }
    maybe_delete(io);
  }

  // Closes the io's handles; it is deleted from the last close callback.
  static void release(redis_io* io) {
    if (io->closing) {
      return;
    }
    io->closing = true;
    if (io->resolving) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&io->resolver));
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&io->timer), on_handle_closed);
    if (io->poll_open) {
      uv_close(reinterpret_cast<uv_handle_t*>(&io->poll), on_handle_closed);
    }
  }

  // Frees the attempt's context as soon as hiredis allows (see the file comment); its cleanup
  // hook then releases the io. Without a context, releases the io directly.
  static void free_context(redis_io* io) {
    if (io->ctx == nullptr) {
      release(io);
    } else if ((io->ctx->c.flags & REDIS_IN_CALLBACK) != 0) {
      redisAsyncFree(io->ctx);  // hiredis frees once the running reply callback returns
    } else if (io->dispatching) {
      io->free_requested = true;
    } else {
      redisAsyncFree(io->ctx);
    }
  }

  static void report_down(redis_link* l, const std::string& reason) {
    if (l == nullptr) {
      return;
    }
    // A copy: the callback may destroy or reconnect the link.
    auto cb = l->cb_.on_down;
    std::string why = fmt::format("{} {}: {}", l->name_, where(*l), reason);
    if (cb) {
      cb(why);
    }
  }

  // Ends the attempt: the link goes idle and hears `reason` once.
  static void fail(redis_io* io, const std::string& reason) {
    redis_link* l = detach(io);
    free_context(io);
    report_down(l, reason);
  }

  // Failures found inside connect() are reported from the loop, never from connect() itself.
  static void fail_soon(redis_io* io, std::string reason) {
    io->pending_error = std::move(reason);
    uv_timer_start(&io->timer, on_timer, 0, 0);
  }

  // ------------------------------------------------------------------ hiredis event hooks

  // hiredis asks for the write event on every command; uv_poll_start would re-register the fd
  // with epoll each time (libuv stops the watcher first), so only a changed mask reaches libuv.
  static void update_poll(redis_io* io) {
    if (!io->poll_open || io->closing || io->events == io->polled) {
      return;
    }
    if (io->events != 0) {
      int rc = uv_poll_start(&io->poll, io->events, on_poll);
      if (rc < 0) {
        log::warn("redis: uv_poll_start: {}", uv_strerror(rc));
        return;
      }
    } else {
      uv_poll_stop(&io->poll);
    }
    io->polled = io->events;
  }

  static void add_read(void* p) {
    auto* io = static_cast<redis_io*>(p);
    io->events |= UV_READABLE;
    update_poll(io);
  }
  static void del_read(void* p) {
    auto* io = static_cast<redis_io*>(p);
    io->events &= ~UV_READABLE;
    update_poll(io);
  }
  static void add_write(void* p) {
    auto* io = static_cast<redis_io*>(p);
    io->events |= UV_WRITABLE;
    update_poll(io);
  }
  static void del_write(void* p) {
    auto* io = static_cast<redis_io*>(p);
    io->events &= ~UV_WRITABLE;
    update_poll(io);
  }

  // Called by hiredis just before it frees the context (and before the disconnect callback).
  static void cleanup(void* p) {
    auto* io = static_cast<redis_io*>(p);
    io->ctx = nullptr;
    io->events = 0;
    if (io->link != nullptr) {
      io->link->ctx_ = nullptr;  // the disconnect callback that follows reports the loss
    }
    release(io);
  }

  // ------------------------------------------------------------------ libuv callbacks

  static void on_poll(uv_poll_t* h, int status, int events) noexcept {
    auto* io = static_cast<redis_io*>(h->data);
    if (io->ctx == nullptr) {
      return;
    }
    io->dispatching = true;
    if (status < 0) {
      // libuv has stopped the handle (EPOLLERR: a refused connect, a reset). Let hiredis read
      // the socket error itself so the reason is the real one; if it finds none, fail anyway.
      io->events = 0;
      io->polled = 0;
      if ((io->ctx->c.flags & REDIS_CONNECTED) != 0) {
        redisAsyncHandleRead(io->ctx);
      } else {
        redisAsyncHandleWrite(io->ctx);
      }
      io->dispatching = false;
      if (io->ctx != nullptr && io->link != nullptr) {
        fail(io, fmt::format("poll error: {}", uv_strerror(status)));
        return;
      }
    } else {
      if ((events & UV_READABLE) != 0) {
        // hiredis reads 16 KiB per call. Under load more is waiting: take it in this iteration
        // (bounded), so one flush of the client connections carries more messages per write.
        for (int round = 0; round < k_max_read_rounds; ++round) {
          redisAsyncHandleRead(io->ctx);
          int pending = 0;
          if (io->ctx == nullptr || io->free_requested || (io->ctx->c.flags & REDIS_CONNECTED) == 0 ||
              ioctl(io->ctx->c.fd, FIONREAD, &pending) != 0 || pending <= 0) {
            break;
          }
        }
      }
      if (io->ctx != nullptr && (events & UV_WRITABLE) != 0) {
        redisAsyncHandleWrite(io->ctx);
      }
      io->dispatching = false;
    }
    if (io->ctx != nullptr && io->free_requested) {
      redisAsyncFree(io->ctx);
    }
  }

  // Writes what hiredis holds now, as the write event would at the next poll; dispatches like
  // on_poll so a failure found here is handled the same way.
  static void flush_writes(redis_link& l) {
    if (l.state_ != redis_link::state::ready || l.io_ == nullptr) {
      return;
    }
    auto* io = static_cast<redis_io*>(l.io_);
    if (io->ctx == nullptr || io->dispatching || (io->events & UV_WRITABLE) == 0) {
      return;
    }
    io->dispatching = true;
    redisAsyncHandleWrite(io->ctx);
    io->dispatching = false;
    if (io->ctx != nullptr && io->free_requested) {
      redisAsyncFree(io->ctx);
    }
  }

  static void on_timer(uv_timer_t* t) noexcept {
    auto* io = static_cast<redis_io*>(t->data);
    if (io->link == nullptr) {
      return;
    }
    std::string why = io->pending_error.empty()
                          ? fmt::format("connect timed out after {} ms",
                                        io->link->connect_timeout_ms_)
                          : io->pending_error;
    fail(io, why);
  }

  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    auto* io = static_cast<redis_io*>(req->data);
    io->resolving = false;
    if (io->closing || io->link == nullptr) {
      uv_freeaddrinfo(res);
      maybe_delete(io);
      return;
    }
    if (status < 0 || res == nullptr) {
      uv_freeaddrinfo(res);
      fail(io, fmt::format("cannot resolve {}: {}", io->link->endpoint_.host,
                           status < 0 ? uv_strerror(status) : "no address"));
      return;
    }
    // One address is tried (hiredis would try them all, but blocking).
    const addrinfo* pick = prefer_ipv4(res);
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* addr = pick->ai_family == AF_INET6
                           ? static_cast<const void*>(
                                 &reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr)
                           : static_cast<const void*>(
                                 &reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr);
    const bool ok = inet_ntop(pick->ai_family, addr, text.data(), text.size()) != nullptr;
    uv_freeaddrinfo(res);
    if (!ok) {
      fail(io, "cannot use the resolved address");
      return;
    }
    start_hiredis(io, text.data());
  }

  // ------------------------------------------------------------------ hiredis callbacks

  static void on_connect(const redisAsyncContext* ac, int status) noexcept {
    auto* io = static_cast<redis_io*>(ac->data);
    redis_link* l = io->link;
    if (l == nullptr) {
      return;
    }
    if (status != REDIS_OK) {
      // hiredis frees the context when this returns; its cleanup hook releases the io.
      std::string why = ac->errstr != nullptr ? ac->errstr : "connect failed";
      report_down(detach(io), why);
      return;
    }
    auto* ctx = const_cast<redisAsyncContext*>(ac);
    redisEnableKeepAlive(&ctx->c);  // notices a peer that vanished without a FIN
    // AUTH and SELECT go first in the stream, then the PING whose answer makes the link ready.
    if (!l->endpoint_.password.empty()) {
      const char* argv[] = {"AUTH", l->endpoint_.password.c_str()};
      const size_t lens[] = {4, l->endpoint_.password.size()};
      redisAsyncCommandArgv(ctx, on_setup_reply, io, 2, argv, lens);
    }
    if (l->endpoint_.db != 0) {
      std::string db = std::to_string(l->endpoint_.db);
      const char* argv[] = {"SELECT", db.c_str()};
      const size_t lens[] = {6, db.size()};
      redisAsyncCommandArgv(ctx, on_setup_reply, io, 2, argv, lens);
    }
    redisAsyncCommand(ctx, on_handshake_pong, io, "PING");
  }

  // The TCP connect alone proves nothing: the kernel completes it for a Redis that is stopped
  // (SIGSTOP, a wedged process) from its listen backlog. The link is ready once Redis answers
  // the PING after AUTH/SELECT; until then the connect timeout still runs.
  static void on_handshake_pong(redisAsyncContext* ac, void* r, void* privdata) noexcept {
    if (r == nullptr) {
      return;  // the context is being freed: the attempt was ended elsewhere
    }
    auto* io = static_cast<redis_io*>(privdata);
    redis_link* l = io->link;
    if (l == nullptr) {
      return;
    }
    auto* reply = static_cast<redisReply*>(r);
    if (reply->type == REDIS_REPLY_ERROR) {
      fail(io, fmt::format("PING refused: {}", std::string(reply->str, reply->len)));
      return;
    }
    uv_timer_stop(&io->timer);
    l->state_ = redis_link::state::ready;
    l->ctx_ = ac;
    auto cb = l->cb_.on_ready;
    if (cb) {
      cb();
    }
  }

  static void on_disconnect(const redisAsyncContext* ac, int status) noexcept {
    auto* io = static_cast<redis_io*>(ac->data);
    redis_link* l = detach(io);
    if (l == nullptr) {
      return;  // we asked for it
    }
    std::string why = status == REDIS_OK ? std::string("connection closed")
                                         : (ac->errstr != nullptr ? ac->errstr : "connection lost");
    report_down(l, why);
  }

  static void on_setup_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
    auto* io = static_cast<redis_io*>(privdata);
    auto* reply = static_cast<redisReply*>(r);
    if (reply == nullptr || reply->type != REDIS_REPLY_ERROR) {
      return;
    }
    fail(io, fmt::format("AUTH/SELECT refused: {}", std::string(reply->str, reply->len)));
  }

  // ------------------------------------------------------------------ connecting

  static void start_hiredis(redis_io* io, const char* host) {
    redis_link* l = io->link;
    redisAsyncContext* ctx = l->endpoint_.unix_path.empty()
                                 ? redisAsyncConnect(host, l->endpoint_.port)
                                 : redisAsyncConnectUnix(l->endpoint_.unix_path.c_str());
    if (ctx == nullptr) {
      fail_soon(io, "out of memory");
      return;
    }
    if (ctx->err != 0) {
      std::string why = ctx->errstr;
      redisAsyncFree(ctx);  // no hooks attached yet: nothing of ours runs
      fail_soon(io, why);
      return;
    }
    // hiredis' own reader allocates whatever array size a reply header declares: bound it.
    if (redisReader* bounded = create_bounded_reader(&io->budget)) {
      redisReaderFree(ctx->c.reader);
      ctx->c.reader = bounded;
    }
    int rc = uv_poll_init(l->loop_, &io->poll, ctx->c.fd);
    if (rc < 0) {
      redisAsyncFree(ctx);
      fail_soon(io, fmt::format("uv_poll_init: {}", uv_strerror(rc)));
      return;
    }
    io->poll.data = io;
    io->poll_open = true;
    ++io->open_handles;
    io->ctx = ctx;
    ctx->data = io;
    ctx->ev.data = io;
    ctx->ev.addRead = add_read;
    ctx->ev.delRead = del_read;
    ctx->ev.addWrite = add_write;
    ctx->ev.delWrite = del_write;
    ctx->ev.cleanup = cleanup;
    redisAsyncSetDisconnectCallback(ctx, on_disconnect);
    redisAsyncSetConnectCallback(ctx, on_connect);  // also asks for the first write event
  }

  static void connect(redis_link& l) {
    auto* io = new redis_io;
    io->link = &l;
    uv_timer_init(l.loop_, &io->timer);
    io->timer.data = io;
    io->open_handles = 1;
    l.io_ = io;
    l.state_ = redis_link::state::connecting;
    if (l.connect_timeout_ms_ > 0) {
      uv_timer_start(&io->timer, on_timer, l.connect_timeout_ms_, 0);
    }
    if (!l.endpoint_.unix_path.empty() || is_ip_literal(l.endpoint_.host)) {
      start_hiredis(io, l.endpoint_.host.c_str());
      return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    io->resolver.data = io;
    int rc = uv_getaddrinfo(l.loop_, &io->resolver, on_resolved, l.endpoint_.host.c_str(),
                            nullptr, &hints);
    if (rc < 0) {
      fail_soon(io, fmt::format("cannot resolve {}: {}", l.endpoint_.host, uv_strerror(rc)));
      return;
    }
    io->resolving = true;
  }

  static void disconnect(redis_link& l) {
    auto* io = static_cast<redis_io*>(l.io_);
    if (io == nullptr) {
      l.state_ = redis_link::state::idle;
      l.ctx_ = nullptr;
      return;
    }
    detach(io);
    free_context(io);
  }
};

redis_link::redis_link(uv_loop_t* loop, redis_endpoint endpoint, uint32_t connect_timeout_ms,
                       std::string name, callbacks cb)
    : loop_(loop),
      endpoint_(std::move(endpoint)),
      connect_timeout_ms_(connect_timeout_ms),
      name_(std::move(name)),
      cb_(std::move(cb)) {}

redis_link::~redis_link() { disconnect(); }

void redis_link::connect() {
  if (state_ != state::idle) {
    return;
  }
  redis_uv_access::connect(*this);
}

void redis_link::disconnect() { redis_uv_access::disconnect(*this); }

void redis_link::flush() { redis_uv_access::flush_writes(*this); }

}  // namespace chatd
