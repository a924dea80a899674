#pragma once
// A worker process: one libuv loop serving clients on the listening socket the master gave it.

#include "common/config.h"
#include "common/stats.h"

#include <vector>

namespace chatd {

struct worker_options {
  unsigned slot = 0;          // index of the listening socket; named in session ids
  unsigned generation = 0;    // bumps on every reload
  int listen_fd = -1;         // SO_REUSEPORT socket opened by the master, already listening
  int ready_fd = -1;          // write end of the readiness pipe: one byte 'R' once accepting
  int handover_recv_fd = -1;  // this slot's end of its hand-over channel (worker/handover.h)
  std::vector<int> handover_send_fds;  // index = slot: where to send another slot's connections
  config cfg;
  stats_segment* stats = nullptr;
  int stats_index = -1;       // this process's slot in `stats`
};

// Signals a worker understands (the master sends them):
//   SIGTERM  stop now, gracefully: stop accepting, close every client (Engine.IO close packet,
//            WebSocket 1001), flush, exit 0 — at most shutdown_timeout.
//   SIGQUIT  retire (reload): stop accepting, keep serving live clients until they leave or
//            shutdown_timeout passes, then close the rest as for SIGTERM, exit 0.
//   SIGINT   ignored (the master handles Ctrl-C for the process group).
// Exit codes: 0 clean, 1 runtime failure, 2 (k_exit_fatal_config) a problem a respawn cannot fix,
// so the master must not respawn the slot: the listening socket it was given cannot be adopted
// (uv_tcp_open or listen fails on it; a replacement gets the same socket).
int run_worker(const worker_options& opts);

inline constexpr int k_exit_fatal_config = 2;

}  // namespace chatd
