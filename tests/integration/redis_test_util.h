#pragma once
// What the C++ integration tests against real redis-server processes share: a free loopback
// port, a child process killed by PID (never outliving the test binary), a bounded wait on a uv
// loop, closing a loop with a check that no handle is left, quiet logs, a synchronous client for
// checks and set-up, and a standalone redis-server. Header-only: each
// integration binary is one .cpp plus doctest's main.

#include "common/log.h"
#include "common/redis_url.h"

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifndef CHATD_REDIS_SERVER
#define CHATD_REDIS_SERVER "/usr/bin/redis-server"
#endif

namespace chatd::test {

// Generous bounds: they only matter when something is broken.
inline constexpr uint64_t k_wait_ms = 15000;

inline uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

// A loopback TCP socket listening with `backlog` that never accepts; its address in `addr`.
// The fd (the caller closes it), or -1.
inline int listen_loopback(int backlog, sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  addr = sockaddr_in{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, backlog) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// A child process running `argv` (argv[0] the program's path), stdio on /dev/null (or `log`,
// appended), killed with SIGKILL by PID when the object goes.
class child_process {
 public:
  child_process() = default;
  ~child_process() { kill_now(); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool spawn(const std::vector<std::string>& argv, const std::string& log = {}) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test binary
      int in = open("/dev/null", O_RDWR);
      int out = log.empty() ? in : open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(in, STDIN_FILENO);
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      execv(args[0], args.data());
      _exit(127);
    }
    return pid_ > 0;
  }
  // The exit status once it has exited; -1 while it runs (or was never started).
  int exited() {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    return -1;
  }
  // Waits up to `bound_ms` for the exit; its status, or -1 (then killed).
  int wait(uint64_t bound_ms) {
    for (uint64_t waited = 0; waited < bound_ms; waited += 10) {
      const int status = exited();
      if (status >= 0) return status;
      usleep(10000);
    }
    kill_now();
    return -1;
  }
  void signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  void kill_now() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Runs `loop` until done() or the bound; a 5 ms tick re-checks conditions that change outside
// the loop (Redis' own state).
inline bool run_until(uv_loop_t* loop, const std::function<bool()>& done,
                      uint64_t bound_ms = k_wait_ms) {
  struct waiter {
    uv_timer_t tick{};
    uint64_t deadline = 0;
    bool expired = false;
  };
  auto* w = new waiter;
  uv_update_time(loop);
  w->deadline = uv_now(loop) + bound_ms;
  uv_timer_init(loop, &w->tick);
  w->tick.data = w;
  uv_timer_start(
      &w->tick,
      [](uv_timer_t* t) {
        auto* self = static_cast<waiter*>(t->data);
        self->expired = uv_now(t->loop) >= self->deadline;
      },
      5, 5);
  bool ok = false;
  while (!(ok = done()) && !w->expired) {
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w->tick),
           [](uv_handle_t* h) { delete static_cast<waiter*>(h->data); });
  return ok;
}

// Runs `loop` for `ms` whatever happens.
inline void run_for(uv_loop_t* loop, uint64_t ms) {
  run_until(loop, [] { return false; }, ms);
}

// Lets everything that is closing finish, then closes the loop: 0 means no handle was left.
inline int close_loop(uv_loop_t* loop) {
  for (int i = 0; i < 2000 && uv_loop_alive(loop) != 0; ++i) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (uv_loop_alive(loop) != 0) {
      usleep(1000);
    }
  }
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        MESSAGE("handle left open: ", uv_handle_type_name(uv_handle_get_type(h)));
      },
      nullptr);
  return uv_loop_close(loop);
}

// Quiet logs for the duration of a test: the outages these tests cause are expected.
// CHATD_TEST_LOGS=1 in the environment shows everything (debug) instead.
struct quiet_logs {
  log::level saved = log::current_level();
  quiet_logs() { log::set_level(getenv("CHATD_TEST_LOGS") != nullptr ? log::level::debug : log::level::error); }
  ~quiet_logs() { log::set_level(saved); }
};

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

// A synchronous client for the test's own checks and set-up, on one node.
class sync_client {
 public:
  explicit sync_client(uint16_t port) {
    timeval tv{1, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (ctx_ != nullptr && ctx_->err == 0) redisSetTimeout(ctx_, tv);
  }
  ~sync_client() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }
  reply_ptr run(const std::vector<std::string>& argv) {
    if (!ok()) return nullptr;
    std::vector<const char*> p;
    std::vector<size_t> l;
    for (const auto& a : argv) {
      p.push_back(a.data());
      l.push_back(a.size());
    }
    return reply_ptr(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), p.data(), l.data())));
  }
  // The reply's text (string, status or error), "" without one.
  std::string text(const std::vector<std::string>& argv) {
    auto r = run(argv);
    return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : std::string();
  }
  long long integer(const std::vector<std::string>& argv) {
    auto r = run(argv);
    return r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }

 private:
  redisContext* ctx_ = nullptr;
};

inline bool wait_listening(uint16_t port, child_process& p, uint64_t bound_ms = 10000) {
  for (uint64_t waited = 0; waited < bound_ms; waited += 10) {
    if (sync_client(port).ok()) return true;
    if (p.exited() >= 0) return false;
    usleep(10000);
  }
  return false;
}


// A standalone redis-server on a free loopback port, without persistence.
struct standalone {
  uint16_t port = free_port();
  child_process proc;
  bool start(const std::string& password = {}) {
    std::vector<std::string> argv = {CHATD_REDIS_SERVER, "--port", std::to_string(port), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--daemonize", "no", "--loglevel", "warning"};
    if (!password.empty()) {
      argv.push_back("--requirepass");
      argv.push_back(password);
    }
    proc.spawn(argv);
    return wait_listening(port, proc);
  }
  redis_endpoint endpoint() const {
    redis_endpoint e;
    e.host = "127.0.0.1";
    e.port = port;
    return e;
  }
};

}  // namespace chatd::test
