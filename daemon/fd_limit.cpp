// RLIMIT_NOFILE: raised at start-up, checked against max_connections at start-up and on reload.

#include "daemon/fd_limit.h"

#include "common/log.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace chatd {

uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    log::warn("getrlimit(RLIMIT_NOFILE): {}", strerror(errno));
    return 1024;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      log::warn("setrlimit(RLIMIT_NOFILE, {}): {}", lim.rlim_max, strerror(errno));
      lim.rlim_cur = before;
    } else {
      log::debug("open-file limit raised from {} to {}", before, lim.rlim_cur);
    }
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(lim.rlim_cur);
}

void warn_if_fd_limit_too_low(const config& c, uint64_t fd_limit) {
  uint64_t workers = static_cast<uint64_t>(c.worker_count());
  if (workers == 0) return;
  uint64_t per_worker = (c.max_connections + workers - 1) / workers;
  uint64_t usable = fd_limit > k_worker_fd_reserve ? fd_limit - k_worker_fd_reserve : 0;
  if (per_worker > usable) {
    log::warn(
        "max_connections {} over {} workers is {} per worker, but the open-file limit ({}) "
        "leaves room for about {}: each worker refuses connections beyond that (raise "
        "LimitNOFILE / ulimit -Hn, or add workers)",
        c.max_connections, workers, per_worker, fd_limit, usable);
  }
}

}  // namespace chatd
