// The child's side of a fork: from the master's process image to a clean worker.

#include "daemon/worker_process.h"

#include "common/log.h"
#include "daemon/proc_title.h"
#include "worker/worker.h"

#include <fmt/format.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace chatd {
namespace {

// Closes every descriptor above stderr except those in `keep_fds`: the other slots' sockets,
// other workers' pipes and whatever else the master holds are none of this worker's business,
// and a listener kept open here by mistake would outlive its retirement.
void close_fds_except(std::vector<int> keep_fds) {
  std::erase_if(keep_fds, [](int fd) { return fd < 3; });
  std::sort(keep_fds.begin(), keep_fds.end());
  std::vector<unsigned> keep(keep_fds.begin(), keep_fds.end());
  unsigned next = 3;  // stdin, stdout and stderr stay
  for (unsigned k : keep) {
    if (k > next) close_range(next, k - 1, 0);
    if (k >= next) next = k + 1;
  }
  close_range(next, UINT_MAX, 0);
}

// Back to default dispositions (the master's handlers only set the master's flags) with two
// exceptions: SIGPIPE stays ignored (a peer closing must not kill a server), SIGINT is ignored
// (Ctrl-C reaches the whole process group; the master alone decides). Then unblock everything.
void reset_signals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGPIPE) continue;
    sigaction(sig, &dfl, nullptr);  // fails harmlessly for signals the C library reserves
  }
  signal(SIGINT, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// A worker ends with _exit (the master's atexit handlers and buffers are not its own), which
// skips LeakSanitizer's check at exit: in a -DCHATD_SANITIZE=ON build, check here, so a leak in a
// worker is reported (and ends it with a failure status) like one in any other process.
void check_leaks() {
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
}

[[noreturn]] void run_child(const worker_launch& w, int ready_wr, pid_t master_pid) {
  std::vector<int> keep = w.handover_send_fds;
  keep.push_back(w.listen_fd);
  keep.push_back(ready_wr);
  keep.push_back(w.handover_recv_fd);
  close_fds_except(std::move(keep));
  // If the master dies (even by SIGKILL), retire gracefully rather than serve unsupervised.
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() != master_pid) _exit(1);
  reset_signals();
  unsetenv("NOTIFY_SOCKET");  // systemd hears from the master only

  proc_title::set(fmt::format("chatd: worker {}", w.slot));
  log::set_role("worker", static_cast<int>(w.slot));
  // The generation's own config, not whatever the master had when it forked.
  log::set_level(w.cfg->log_level);
  log::set_format(w.cfg->log_format);

  worker_options opts;
  opts.slot = w.slot;
  opts.generation = w.generation;
  opts.listen_fd = w.listen_fd;
  opts.ready_fd = ready_wr;
  opts.handover_recv_fd = w.handover_recv_fd;
  opts.handover_send_fds = w.handover_send_fds;
  opts.cfg = *w.cfg;
  opts.stats = w.stats;
  opts.stats_index = w.stats ? w.stats->claim(getpid()) : -1;
  if (w.stats && opts.stats_index < 0) log::warn("no free stats slot: figures will miss me");

  int code = 1;
  try {
    code = run_worker(opts);
  } catch (const std::exception& e) {
    log::error("worker stopped by an exception: {}", e.what());
  } catch (...) {
    log::error("worker stopped by an unknown exception");
  }
  check_leaks();
  _exit(code);
}

}  // namespace

expected<spawned_worker, std::string> fork_worker(const worker_launch& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return unexpected(fmt::format("pipe: {}", strerror(errno)));
  pid_t master_pid = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    return unexpected(fmt::format("fork: {}", strerror(err)));
  }
  if (pid == 0) {
    close(p[0]);
    run_child(w, p[1], master_pid);
  }
  close(p[1]);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  return spawned_worker{pid, p[0]};
}

}  // namespace chatd
