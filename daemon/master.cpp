// The master cycle: signals in as flags, one ppoll() wait, then one action per flag or timer.
// See master.h for the model (generations, reload, stop).

#include "daemon/master.h"

#include "common/log.h"
#include "daemon/config_source.h"
#include "daemon/fd_limit.h"
#include "daemon/notify.h"
#include "daemon/worker_process.h"
#include "worker/worker.h"

#include <fmt/format.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chatd {
namespace {

using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Crash-loop backoff: the first quick crash respawns at once, then 100 ms doubling up to 10 s; a
// worker that stayed up this long resets it.
constexpr uint32_t k_backoff_first_ms = 100;
constexpr uint32_t k_backoff_max_ms = 10000;
constexpr auto k_stable_uptime = 10s;
// A retiring or stopping worker gets this long beyond its shutdown_timeout before SIGKILL.
constexpr auto k_kill_grace = 5s;
// A worker of a new generation that dies this often before ready means the generation cannot
// start: the reload is undone rather than retried forever.
constexpr int k_max_failures_before_ready = 3;
// Sockets dropped by a reload stay in their accept queue's way this long at least, and at most
// this long while connections still wait in it, before their worker is told to quit.
constexpr auto k_retire_linger_min = 100ms;
constexpr auto k_retire_linger_max = 2s;
constexpr auto k_retire_poll = 20ms;
constexpr auto k_status_period = 5s;
constexpr auto k_ready_warning = 10s;

// Set by the handlers, read and cleared by the cycle. Signals are blocked outside ppoll(), so
// the handlers never run while the cycle is acting.
volatile sig_atomic_t g_reap = 0;
volatile sig_atomic_t g_reconfigure = 0;
volatile sig_atomic_t g_terminate = 0;  // a count: the second one stops at once

constexpr int k_master_signals[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};

void on_signal(int sig) {
  switch (sig) {
    case SIGCHLD: g_reap = 1; break;
    case SIGHUP: g_reconfigure = 1; break;
    case SIGTERM:
    case SIGINT: g_terminate = g_terminate + 1; break;
    default: break;
  }
}

// Blocks the master's signals for good (ppoll unblocks them while waiting) and installs handlers.
void install_signal_handlers() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : k_master_signals) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_mask = set;  // one handler at a time
  for (int sig : k_master_signals) sigaction(sig, &sa, nullptr);
  // Writing a log line to a closed stderr pipe must not kill the master.
  signal(SIGPIPE, SIG_IGN);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return fmt::format("was killed by signal {} ({}){}", sig, strsignal(sig),
                       WCOREDUMP(status) ? ", core dumped" : "");
  }
  return fmt::format("ended with wait status {:#x}", status);
}

long long ms(master::clock::duration d) { return duration_cast<milliseconds>(d).count(); }

}  // namespace

master::master(cli_options cli, config cfg, std::unique_ptr<listener_group> listeners,
               stats_segment* stats, uint64_t fd_limit)
    : cli_(std::move(cli)), cfg_(std::move(cfg)), stats_(stats), fd_limit_(fd_limit) {
  current_group_ = listeners.get();
  groups_.push_back(std::move(listeners));
  slots_.assign(static_cast<size_t>(cfg_.worker_count()), slot_state{});
  ensure_channels(slots_.size());
}

void master::ensure_channels(size_t count) {
  while (channels_.size() < count) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      log::error("hand-over channel for slot {}: {}", channels_.size(), strerror(errno));
      sv[0] = sv[1] = -1;
    } else {
      // Room for a few hand-overs in flight (each at most a request head and one read).
      int size = 1 << 20;
      setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
      setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    channels_.push_back({sv[0], sv[1]});
  }
}

master::~master() {
  for (auto& w : workers_) {
    if (w.ready_fd >= 0) close(w.ready_fd);
  }
  for (auto& ch : channels_) {
    if (ch[0] >= 0) close(ch[0]);
    if (ch[1] >= 0) close(ch[1]);
  }
}

// ---------------------------------------------------------------------------------------------
// The cycle

int master::run() {
  install_signal_handlers();
  log::info("starting {} workers: {}", slots_.size(), describe_config(cfg_));
  for (unsigned slot = 0; slot < slots_.size(); ++slot) spawn(slot, generation_);
  report_status(true);

  for (;;) {
    wait_for_events();

    if (!readable_.empty()) {
      read_ready_pipes();
    }
    if (g_reap) {
      g_reap = 0;
      reap_workers();
    }
    if (g_terminate) {
      int count = g_terminate;
      g_terminate = 0;
      on_terminate_signal(count);
    }
    if (g_reconfigure) {
      g_reconfigure = 0;
      on_reload_signal();
    }
    run_timers();

    if (stopping_ && workers_.empty()) {
      log::info("every worker has exited; master exits with status {}", exit_code_);
      return exit_code_;
    }
  }
}

// Sleeps until a signal, a readiness pipe or the nearest timer.
void master::wait_for_events() {
  clock::time_point now = clock::now();
  clock::time_point wake = next_status_at_;
  auto sooner = [&](clock::time_point t) { wake = std::min(wake, t); };
  for (auto& s : slots_) {
    if (s.respawn_at) sooner(*s.respawn_at);
  }
  for (auto& w : workers_) {
    if (w.kill_at && !w.kill_sent) sooner(*w.kill_at);
    if (w.retire_pending) sooner(now + k_retire_poll);
    if (!w.ready && !w.warned_not_ready) sooner(w.started + k_ready_warning);
  }
  if (stop_deadline_) sooner(*stop_deadline_);

  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].ready_fd >= 0) {
      fds.push_back(pollfd{workers_[i].ready_fd, POLLIN, 0});
      owners.push_back(i);
    }
  }

  auto wait = std::max(clock::duration::zero(), wake - now);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait);
  timespec timeout{static_cast<time_t>(secs.count()),
                   static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         wait - secs).count())};
  sigset_t none;
  sigemptyset(&none);
  readable_.clear();
  int n = ppoll(fds.data(), fds.size(), &timeout, &none);
  if (n < 0) {
    if (errno != EINTR) log::error("ppoll: {}", strerror(errno));
    return;
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) readable_.push_back(owners[i]);
  }
}

void master::read_ready_pipes() {
  for (size_t index : readable_) {
    worker& w = workers_[index];
    if (w.ready_fd < 0) continue;
    char buf[16];
    ssize_t n = read(w.ready_fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    bool ready = n > 0 && std::find(buf, buf + n, 'R') != buf + n;
    if (ready || n <= 0) {
      // Ready, or the pipe closed: it has nothing more to say. A death is handled by the reaper.
      close(w.ready_fd);
      w.ready_fd = -1;
    }
    if (ready) on_worker_ready(w);
  }
  readable_.clear();
}

void master::reap_workers() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) break;
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nobody left
    }
    auto it = std::find_if(workers_.begin(), workers_.end(),
                           [pid](const worker& w) { return w.pid == pid; });
    if (it == workers_.end()) {
      log::debug("reaped unknown child {}: {}", pid, describe_exit(status));
      continue;
    }
    worker w = *it;
    workers_.erase(it);
    if (w.ready_fd >= 0) close(w.ready_fd);
    // Dead and reaped: it writes no more, so its counts move to the daemon's retired totals.
    if (stats_) stats_->retire(pid);
    on_worker_exit(w, status);
  }
  sweep_listeners();
  report_status();
}

void master::on_terminate_signal(int count) {
  bool again = stopping_ || count > 1;
  begin_stop(k_exit_ok);
  if (again) stop_at_once();
}

void master::on_reload_signal() {
  if (stopping_) {
    log::info("reload ignored: stopping");
    return;
  }
  if (reload_ || !ready_notified_) {
    // One at a time: the running one finishes (or fails) first, then this one reads the file.
    reload_queued_ = true;
    log::info("reload queued: {} in progress", reload_ ? "a reload is" : "start-up is");
    return;
  }
  reload();
}

void master::run_timers() {
  clock::time_point now = clock::now();
  if (!stopping_) {
    for (unsigned slot = 0; slot < slots_.size(); ++slot) {
      auto& s = slots_[slot];
      if (s.respawn_at && *s.respawn_at <= now) {
        s.respawn_at.reset();
        spawn(slot, generation_);
      }
    }
  }
  retire_old_workers();
  for (auto& w : workers_) {
    if (w.kill_at && !w.kill_sent && *w.kill_at <= now) {
      log::warn("worker {} (pid {}, generation {}) still running {} ms past its "
                "shutdown_timeout: killing it",
                w.slot, w.pid, w.generation, ms(k_kill_grace));
      signal_worker(w, SIGKILL);
    }
    if (!w.ready && !w.warned_not_ready && now - w.started >= k_ready_warning) {
      w.warned_not_ready = true;
      log::warn("worker {} (pid {}, generation {}) not ready {} ms after start", w.slot, w.pid,
                w.generation, ms(now - w.started));
    }
  }
  if (stop_deadline_ && *stop_deadline_ <= now) {
    stop_deadline_.reset();
    for (auto& w : workers_) {
      if (!w.kill_sent) {
        log::warn("worker {} (pid {}) did not finish within shutdown_timeout: killing it",
                  w.slot, w.pid);
        signal_worker(w, SIGKILL);
      }
    }
  }
  if (now >= next_status_at_) report_status(true);
}

// ---------------------------------------------------------------------------------------------
// Workers

void master::spawn(unsigned slot, unsigned generation) {
  ensure_channels(std::max<size_t>({slot + 1, slots_.size(), static_cast<size_t>(cfg_.worker_count())}));
  worker_launch launch;
  launch.slot = slot;
  launch.generation = generation;
  launch.listen_fd = current_group_->fd(slot);
  launch.cfg = &cfg_;
  launch.stats = stats_;
  launch.handover_recv_fd = channels_[slot][0];
  for (const auto& ch : channels_) launch.handover_send_fds.push_back(ch[1]);
  auto child = fork_worker(launch);
  if (!child) {
    log::error("cannot start worker {}: {}", slot, child.error());
    schedule_respawn(slot, clock::duration::zero());
    return;
  }
  worker w;
  w.pid = child->pid;
  w.slot = slot;
  w.generation = generation;
  w.listen_fd = launch.listen_fd;
  w.ready_fd = child->ready_fd;
  w.shutdown_timeout_ms = cfg_.shutdown_timeout_ms;
  w.started = clock::now();
  workers_.push_back(w);
  log::info("worker {} started: pid {}, generation {}", slot, w.pid, generation);
}

void master::on_worker_ready(worker& w) {
  w.ready = true;
  log::info("worker {} ready: pid {}, generation {}, {} ms after start", w.slot, w.pid,
            w.generation, ms(clock::now() - w.started));
  if (w.generation == generation_ && w.slot < slots_.size()) {
    slots_[w.slot].failures_before_ready = 0;
  }
  if (w.generation == generation_ && all_current_ready()) {
    if (reload_) {
      finish_reload();
    } else if (!ready_notified_) {
      ready_notified_ = true;
      log::info("all {} workers ready", live_current());
      notify::ready(status_line());
      if (reload_queued_) {
        reload_queued_ = false;
        reload();
      }
    }
  }
  report_status();
}

void master::on_worker_exit(const worker& w, int status) {
  bool asked = w.quit_sent || w.term_sent || w.kill_sent;
  bool current = w.generation == generation_ && !stopping_;
  std::string what = fmt::format("worker {} (pid {}, generation {}) {}", w.slot, w.pid,
                                 w.generation, describe_exit(status));
  if (asked) {
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (clean) {
      log::info("{}", what);
    } else {
      log::warn("{}", what);
    }
    return;
  }
  if (stopping_) {
    log::warn("{} while stopping", what);
    return;
  }
  if (!current) {
    // Old generation during a reload: its replacement is already on the way.
    log::warn("{}; not respawned (generation {} replaces it)", what, generation_);
    return;
  }

  bool fatal = WIFEXITED(status) && WEXITSTATUS(status) == k_exit_fatal_config;
  if (fatal) {
    log::error("{}: fatal configuration error, slot {} is not respawned", what, w.slot);
    if (reload_) {
      abort_reload(fmt::format("worker {} of generation {} refused the configuration", w.slot,
                               w.generation));
      return;
    }
    slots_[w.slot].disabled = true;
    if (live_current() == 0) {
      log::error("no worker left to serve: stopping");
      begin_stop(k_exit_failure);
      return;
    }
    // The others serve on; readiness now counts only the slots still enabled.
    if (!ready_notified_ && all_current_ready()) {
      ready_notified_ = true;
      notify::ready(status_line());
    }
    return;
  }

  log::warn("{}", what);
  if (reload_ && !w.ready) {
    if (++slots_[w.slot].failures_before_ready >= k_max_failures_before_ready) {
      abort_reload(fmt::format("worker {} of generation {} died {} times before ready", w.slot,
                               w.generation, k_max_failures_before_ready));
      return;
    }
  }
  count_in_stats(&master_counters::respawns_total);
  schedule_respawn(w.slot, clock::now() - w.started);
}

void master::schedule_respawn(unsigned slot, clock::duration uptime) {
  auto& s = slots_[slot];
  if (uptime >= k_stable_uptime) s.backoff_ms = 0;
  uint32_t delay = s.backoff_ms;
  s.backoff_ms = delay == 0 ? k_backoff_first_ms : std::min(delay * 2, k_backoff_max_ms);
  if (delay == 0) {
    spawn(slot, generation_);
    return;
  }
  log::warn("worker {} is crash-looping (up {} ms): respawning in {} ms", slot, ms(uptime),
            delay);
  s.respawn_at = clock::now() + milliseconds(delay);
}

void master::signal_worker(worker& w, int sig) {
  if (kill(w.pid, sig) != 0 && errno != ESRCH) {
    log::error("kill({}, {}): {}", w.pid, strsignal(sig), strerror(errno));
  }
  if (sig == SIGQUIT) w.quit_sent = true;
  if (sig == SIGTERM) w.term_sent = true;
  if (sig == SIGKILL) w.kill_sent = true;
}

bool master::all_current_ready() const {
  for (unsigned slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].disabled) continue;
    bool ready = std::any_of(workers_.begin(), workers_.end(), [&](const worker& w) {
      return w.generation == generation_ && w.slot == slot && w.ready;
    });
    if (!ready) return false;
  }
  return true;
}

size_t master::live_current() const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(), [&](const worker& w) {
    return w.generation == generation_ && !w.term_sent && !w.quit_sent;
  }));
}

bool master::holds_socket(int fd) const {
  return std::any_of(workers_.begin(), workers_.end(),
                     [fd](const worker& w) { return w.listen_fd == fd; });
}

// ---------------------------------------------------------------------------------------------
// Reload

void master::reload() {
  log::info("reloading: reading {}", config_origin(cli_));
  auto next = load_effective_config(cli_);
  if (!next) {
    count_in_stats(&master_counters::reloads_refused_total);
    log::error("reload refused: {}", next.error().message());
    return;
  }
  warn_if_fd_limit_too_low(*next, fd_limit_);
  size_t count = static_cast<size_t>(next->worker_count());
  listen_endpoint ep{next->listen_address, next->listen_port};

  reload_state saved{generation_, cfg_, current_group_, slots_.size()};
  // The endpoint's group if one is still open (unchanged, or back to one still draining): new
  // sockets on the same address would join the same kernel group behind the old ones' backs.
  auto same = std::find_if(groups_.begin(), groups_.end(),
                           [&](const auto& g) { return g->endpoint() == ep; });
  if (same != groups_.end()) {
    listener_group* g = same->get();
    size_t before = g->active();
    auto resized = g->resize(count, next->listen_backlog);
    if (!resized) {
      count_in_stats(&master_counters::reloads_refused_total);
      log::error("reload refused: {}", resized.error());
      return;
    }
    if (g == current_group_ && count < before) steered_at_ = clock::now();
    if (*resized > 0) log::info("opened {} more sockets on {}", *resized, ep.describe());
    current_group_ = g;
  } else {
    auto opened = listener_group::open(ep, count, next->listen_backlog);
    if (!opened) {
      count_in_stats(&master_counters::reloads_refused_total);
      log::error("reload refused: {}", opened.error());
      return;
    }
    log::info("listening on {} ({} sockets)", ep.describe(), count);
    current_group_ = opened->get();
    groups_.push_back(std::move(*opened));
  }

  // Committed: from here on the new generation is the current one.
  reload_ = saved;
  generation_ = ++last_generation_;
  cfg_ = std::move(*next);
  log::set_level(cfg_.log_level);
  log::set_format(cfg_.log_format);
  slots_.assign(count, slot_state{});
  notify::reloading(status_line());
  log::info("reload: generation {} starting: {}", generation_, describe_config(cfg_));
  for (unsigned slot = 0; slot < count; ++slot) spawn(slot, generation_);
}

void master::finish_reload() {
  reload_state done = *reload_;
  reload_.reset();
  count_in_stats(&master_counters::reloads_total);
  size_t retiring = 0;
  for (auto& w : workers_) {
    if (w.generation != generation_ && !w.quit_sent && !w.term_sent && !w.kill_sent) {
      w.retire_pending = true;
      ++retiring;
    }
  }
  // A group whose address is gone: all of its sockets retire and close as their workers exit.
  if (done.old_group != current_group_) (void)done.old_group->resize(0, 0);
  retire_old_workers();
  log::info("reload done: generation {} serving ({} workers); {} workers of older generations "
            "retiring",
            generation_, live_current(), retiring);
  notify::ready(status_line());
  sweep_listeners();
  report_status(true);
  if (reload_queued_) {
    reload_queued_ = false;
    reload();
  }
}

void master::abort_reload(const std::string& why) {
  reload_state saved = *reload_;
  reload_.reset();
  // Counted before the log line says so: what reads the log may read /metrics next.
  count_in_stats(&master_counters::reloads_failed_total);
  log::error("reload failed: {}; generation {} keeps serving", why, saved.old_generation);
  clock::time_point now = clock::now();
  for (auto& w : workers_) {
    if (w.generation == generation_ && !w.term_sent) {
      signal_worker(w, SIGTERM);
      w.kill_at = now + milliseconds(w.shutdown_timeout_ms) + k_kill_grace;
    }
  }
  generation_ = saved.old_generation;
  cfg_ = std::move(saved.old_cfg);
  log::set_level(cfg_.log_level);
  log::set_format(cfg_.log_format);
  if (current_group_ != saved.old_group) {
    (void)current_group_->resize(0, 0);
    current_group_ = saved.old_group;
  }
  // Takes back sockets dropped by the failed config, or retires those it added.
  (void)current_group_->resize(saved.old_count, cfg_.listen_backlog);
  slots_.assign(saved.old_count, slot_state{});
  // Old workers that died while the reload ran were not respawned: they are now.
  for (unsigned slot = 0; slot < slots_.size(); ++slot) {
    bool alive = std::any_of(workers_.begin(), workers_.end(), [&](const worker& w) {
      return w.generation == generation_ && w.slot == slot;
    });
    if (!alive) {
      count_in_stats(&master_counters::respawns_total);
      spawn(slot, generation_);
    }
  }
  if (all_current_ready()) notify::ready(status_line());
  sweep_listeners();
  report_status(true);
  if (reload_queued_) {
    reload_queued_ = false;
    reload();
  }
}

// Sends SIGQUIT to old workers waiting for it. One whose socket was dropped from the group waits
// until new connections have been steered away from it and its accept queue is empty: closing a
// listener resets the connections still queued in it.
void master::retire_old_workers() {
  clock::time_point now = clock::now();
  for (auto& w : workers_) {
    if (!w.retire_pending) continue;
    if (current_group_->is_retiring(w.listen_fd)) {
      auto lingered = now - steered_at_;
      int queued = accept_queue_length(w.listen_fd);
      if (lingered < k_retire_linger_max && (lingered < k_retire_linger_min || queued != 0)) {
        continue;
      }
      if (queued > 0) {
        log::warn("worker {} (pid {}) retires with {} connections still queued on its socket",
                  w.slot, w.pid, queued);
      }
    }
    w.retire_pending = false;
    signal_worker(w, SIGQUIT);
    w.kill_at = now + milliseconds(w.shutdown_timeout_ms) + k_kill_grace;
  }
}

// ---------------------------------------------------------------------------------------------
// Stop

void master::begin_stop(int exit_code) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  reload_queued_ = false;
  reload_.reset();
  uint32_t longest = cfg_.shutdown_timeout_ms;
  for (auto& s : slots_) s.respawn_at.reset();
  for (auto& w : workers_) {
    longest = std::max(longest, w.shutdown_timeout_ms);
    w.retire_pending = false;
    if (!w.kill_sent) signal_worker(w, SIGTERM);
  }
  stop_deadline_ = clock::now() + milliseconds(longest) + k_kill_grace;
  log::info("stopping: {} workers told to finish within {} ms", workers_.size(), longest);
  notify::stopping(status_line());
}

void master::stop_at_once() {
  log::warn("stop requested again: killing {} workers now", workers_.size());
  for (auto& w : workers_) signal_worker(w, SIGKILL);
  // SIGKILL cannot be refused: these waits are short.
  for (auto& w : workers_) {
    int status = 0;
    while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (stats_) stats_->retire(w.pid);
    if (w.ready_fd >= 0) close(w.ready_fd);
    w.ready_fd = -1;
  }
  workers_.clear();
}

// ---------------------------------------------------------------------------------------------
// Listeners and status

void master::count_in_stats(std::atomic<uint64_t> master_counters::*field) {
  if (stats_) (stats_->master().*field).fetch_add(1, std::memory_order_relaxed);
}

void master::sweep_listeners() {
  auto held = [this](int fd) { return holds_socket(fd); };
  for (auto& g : groups_) {
    if (size_t n = g->close_unheld_retiring(held); n > 0) {
      log::info("closed {} retired sockets on {}", n, g->endpoint().describe());
    }
  }
  std::erase_if(groups_, [this](const auto& g) {
    return g.get() != current_group_ && g->size() == 0 &&
           !(reload_ && reload_->old_group == g.get());
  });
}

std::string master::status_line() const {
  uint64_t connections = 0;
  if (stats_) {
    for (size_t i = 0; i < stats_segment::k_slots; ++i) {
      worker_stats& s = stats_->at(i);
      if (s.pid.load(std::memory_order_relaxed) != 0) {
        connections += s.connections.load(std::memory_order_relaxed);
      }
    }
  }
  size_t ready = static_cast<size_t>(std::count_if(
      workers_.begin(), workers_.end(),
      [&](const worker& w) { return w.generation == generation_ && w.ready && !w.term_sent; }));
  size_t others = workers_.size() - static_cast<size_t>(std::count_if(
      workers_.begin(), workers_.end(),
      [&](const worker& w) { return w.generation == generation_ && !w.term_sent; }));
  std::string line;
  if (stopping_) {
    line = fmt::format("stopping: {} workers left, {} connections", workers_.size(), connections);
  } else {
    line = fmt::format("{} of {} workers ready, {} connections", ready, slots_.size(), connections);
    if (others > 0) line += fmt::format(", {} retiring", others);
    if (reload_) line += fmt::format(", reloading to generation {}", generation_);
  }
  return line;
}

void master::report_status(bool force) {
  clock::time_point now = clock::now();
  std::string line = status_line();
  if (force || line != last_status_) {
    notify::status(line);
    log::debug("status: {}", line);
    last_status_ = std::move(line);
  }
  if (force || now >= next_status_at_) next_status_at_ = now + k_status_period;
}

}  // namespace chatd
