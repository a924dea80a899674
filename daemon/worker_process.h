#pragma once
// Forking one worker process: what the child does between fork() and run_worker() (drop the
// master's descriptors and signal handling, name itself, claim its stats slot) lives here, so the
// master's cycle only sees "a pid and a readiness pipe".

#include "common/config.h"
#include "common/expected.h"
#include "common/stats.h"

#include <string>
#include <vector>
#include <sys/types.h>

namespace chatd {

struct worker_launch {
  unsigned slot = 0;
  unsigned generation = 0;
  int listen_fd = -1;        // the master's copy of the slot's socket; the child keeps only it
  const config* cfg = nullptr;
  stats_segment* stats = nullptr;
  int handover_recv_fd = -1;           // the slot's receiving end of its hand-over channel
  std::vector<int> handover_send_fds;  // every slot's sending end (index = slot)
};

struct spawned_worker {
  pid_t pid = -1;
  int ready_fd = -1;  // read end of the readiness pipe (non-blocking, close-on-exec)
};

// Forks a worker; returns in the parent only. The child never returns: it runs the worker and
// _exits with its code. Call with the master's signals blocked (the child unblocks its own).
expected<spawned_worker, std::string> fork_worker(const worker_launch& w);

}  // namespace chatd
