#pragma once
// hiredis async context on a libuv loop: our own adapter (uv_poll_t + uv_timer_t) instead of
// hiredis 0.14's adapters/libuv.h, which drops poll errors, has no connect timeout and leaks on a
// failed attach. One redis_link owns one redisAsyncContext; all callbacks run on the loop.

#include "common/config.h"

#include <hiredis/async.h>
#include <uv.h>

#include <functional>
#include <string>

namespace chatd {

class redis_link {
 public:
  struct callbacks {
    std::function<void()> on_ready;  // connected, AUTH/SELECT sent, and Redis answered a PING
    std::function<void(const std::string& why)> on_down;  // failed to connect, or lost
  };

  redis_link(uv_loop_t* loop, redis_endpoint endpoint, uint32_t connect_timeout_ms,
             std::string name, callbacks cb);
  ~redis_link();  // disconnects; safe from any state except inside a hiredis callback
  redis_link(const redis_link&) = delete;
  redis_link& operator=(const redis_link&) = delete;

  // Starts connecting; on_ready or on_down follows. Calling while connected does nothing.
  void connect();
  bool ready() const { return state_ == state::ready; }
  // The context while ready (commands go through redisAsyncCommand*), else nullptr.
  redisAsyncContext* context() const { return state_ == state::ready ? ctx_ : nullptr; }
  // Drops the connection (on_down is not called).
  void disconnect();
  // Writes the commands issued so far now rather than at the next poll for writability.
  void flush();

 private:
  enum class state { idle, connecting, ready };
  // … implementation details are the adapter's own (see redis_uv.cpp).
  friend struct redis_uv_access;
  uv_loop_t* loop_;
  redis_endpoint endpoint_;
  uint32_t connect_timeout_ms_;
  std::string name_;
  callbacks cb_;
  state state_ = state::idle;
  redisAsyncContext* ctx_ = nullptr;
  void* io_ = nullptr;  // the adapter's per-context event state (poll + timer handles)
};

}  // namespace chatd
