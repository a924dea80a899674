#pragma once
// The open-file limit: every client connection is a file descriptor, so the soft limit is raised
// to the hard one at start-up, and the master says when the configured connection limit cannot
// be reached under it.

#include "common/config.h"

#include <cstdint>

namespace chatd {

// Descriptors a worker needs besides its clients: listener, readiness pipe, Redis connections,
// libuv's internals, stdio. Generous on purpose.
inline constexpr uint64_t k_worker_fd_reserve = 64;

// Raises RLIMIT_NOFILE's soft limit to the hard one; returns the soft limit now in force.
uint64_t raise_fd_limit();

// Logs a warning when max_connections / workers is more than `fd_limit` allows per worker.
void warn_if_fd_limit_too_low(const config& c, uint64_t fd_limit);

}  // namespace chatd
