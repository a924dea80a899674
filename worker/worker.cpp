// Worker process entry: one libuv loop around a server on the socket the master gave us.

#include "worker/worker.h"

#include "common/log.h"
#include "worker/server.h"

#include <uv.h>

#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstring>

namespace chatd {
namespace {

struct worker_signals {
  uv_signal_t term;
  uv_signal_t quit;
  server* srv;
};

void on_term(uv_signal_t* h, int) noexcept { static_cast<worker_signals*>(h->data)->srv->stop(); }

// SIGTERM still means "now" while retiring.
void on_quit(uv_signal_t* h, int) noexcept { static_cast<worker_signals*>(h->data)->srv->retire(); }

// Serves on an adopted listening socket until the server lets go of its last handle: signal
// watchers for SIGTERM/SIGQUIT, the readiness byte to the master, then the loop.
void serve(uv_loop_t* loop, server& srv, const worker_options& opts, worker_stats& stats) {
  if (int r = srv.enable_handover(opts.handover_recv_fd, opts.handover_send_fds); r != 0) {
    log::warn("hand-over channel (fd {}): {}: requests for sessions of other workers will fail",
              opts.handover_recv_fd, uv_strerror(r));
  }
  worker_signals sig{};
  sig.srv = &srv;
  uv_signal_init(loop, &sig.term);
  uv_signal_init(loop, &sig.quit);
  sig.term.data = &sig;
  sig.quit.data = &sig;
  uv_signal_start(&sig.term, &on_term, SIGTERM);
  uv_signal_start(&sig.quit, &on_quit, SIGQUIT);
  // The signal watchers must not keep the loop alive: it ends when the server has let go of
  // its last handle (after a stop or retire).
  uv_unref(reinterpret_cast<uv_handle_t*>(&sig.term));
  uv_unref(reinterpret_cast<uv_handle_t*>(&sig.quit));

  stats.state.store(1, std::memory_order_relaxed);
  if (opts.ready_fd >= 0) {
    char r = 'R';
    ssize_t w;
    do {
      w = ::write(opts.ready_fd, &r, 1);
    } while (w < 0 && errno == EINTR);
    ::close(opts.ready_fd);
  }
  log::info("accepting on fd {} (generation {})", opts.listen_fd, opts.generation);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&sig.term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sig.quit), nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
}

}  // namespace

int run_worker(const worker_options& opts) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the whole process group; the master decides
  log::set_level(opts.cfg.log_level);

  worker_stats local_stats;
  worker_stats& stats = (opts.stats != nullptr && opts.stats_index >= 0)
                            ? opts.stats->at(static_cast<size_t>(opts.stats_index))
                            : local_stats;
  stats.slot.store(opts.slot, std::memory_order_relaxed);
  stats.generation.store(opts.generation, std::memory_order_relaxed);
  stats.state.store(0, std::memory_order_relaxed);

  uv_loop_t loop;
  if (int r = uv_loop_init(&loop); r != 0) {
    log::error("uv_loop_init: {}", uv_strerror(r));
    return 1;
  }
  int code = 0;
  {
    server srv(&loop, opts.cfg, opts.slot, opts.generation, opts.stats, stats);
    if (int r = srv.listen(opts.listen_fd); r != 0) {
      // The master hands this slot the same socket on every respawn: a replacement would fail
      // the same way, so say "do not respawn" rather than crash-loop.
      log::error("cannot accept on the listening socket (fd {}): {}: exiting {} (not respawned)",
                 opts.listen_fd, uv_strerror(r), k_exit_fatal_config);
      srv.stop();
      uv_run(&loop, UV_RUN_DEFAULT);
      code = k_exit_fatal_config;
    } else {
      serve(&loop, srv, opts, stats);
    }
  }
  // Handles closed by the server's destructor path need one more turn to run their callbacks.
  uv_run(&loop, UV_RUN_DEFAULT);
  if (int r = uv_loop_close(&loop); r != 0) {
    log::warn("loop closed with handles left: {}", uv_strerror(r));
  }
  log::info("exiting");
  return code;
}

}  // namespace chatd
