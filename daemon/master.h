#pragma once
// The master process: supervises the workers, reloads, stops. It never touches client bytes.
//
// Shape (nginx's master cycle): signal handlers only set flags; the cycle blocks those signals
// except while it waits in ppoll() (which also watches the workers' readiness pipes and times out
// for timers), then acts on each flag in turn. Every action is one member function.
//
// Generations: every worker carries the generation it was started with. Workers of the current
// generation are respawned when they die; older ones are retiring and are not. A reload builds
// and validates a whole new config and its listening sockets first; only then does it start a new
// generation, and only when all of it reports ready are the old workers told to quit.

#include "common/config.h"
#include "common/stats.h"
#include "daemon/cli.h"
#include "daemon/listeners.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace chatd {

class master {
 public:
  using clock = std::chrono::steady_clock;

  // `cfg` is the validated start-up config built from `cli`; `listeners` holds one socket per
  // worker of `cfg`; `stats` was created before any fork.
  master(cli_options cli, config cfg, std::unique_ptr<listener_group> listeners,
         stats_segment* stats, uint64_t fd_limit);
  ~master();
  master(const master&) = delete;
  master& operator=(const master&) = delete;

  // The cycle. Returns the process exit code once every worker is gone.
  int run();

 private:
  struct worker {
    pid_t pid = -1;
    unsigned slot = 0;
    unsigned generation = 0;
    int listen_fd = -1;               // the master's copy of the socket it accepts on
    int ready_fd = -1;                // readiness pipe, read end; -1 once ready or closed
    bool ready = false;
    bool warned_not_ready = false;
    bool retire_pending = false;      // to be sent SIGQUIT once its socket's queue is empty
    bool quit_sent = false;           // SIGQUIT: retiring
    bool term_sent = false;           // SIGTERM: stopping
    bool kill_sent = false;
    uint32_t shutdown_timeout_ms = 0;  // of the config it was started with
    clock::time_point started;
    std::optional<clock::time_point> kill_at;  // SIGKILL if still alive then
  };

  struct slot_state {
    uint32_t backoff_ms = 0;          // next respawn delay after a quick crash
    std::optional<clock::time_point> respawn_at;
    int failures_before_ready = 0;    // during a reload: the new generation cannot start
    bool disabled = false;            // its worker exited with k_exit_fatal_config
  };

  // What a reload changed, to finish it or to undo it.
  struct reload_state {
    unsigned old_generation = 0;
    config old_cfg;
    listener_group* old_group = nullptr;
    size_t old_count = 0;
  };

  // Actions of the cycle.
  void wait_for_events();
  void read_ready_pipes();
  void reap_workers();
  void on_terminate_signal(int count);
  void on_reload_signal();
  void run_timers();

  // Workers.
  void spawn(unsigned slot, unsigned generation);
  void on_worker_ready(worker& w);
  void on_worker_exit(const worker& w, int status);
  void schedule_respawn(unsigned slot, clock::duration uptime);
  void signal_worker(worker& w, int sig);
  bool all_current_ready() const;
  size_t live_current() const;
  bool holds_socket(int fd) const;

  // Reload.
  void reload();
  void finish_reload();
  void abort_reload(const std::string& why);
  void retire_old_workers();

  // Stop.
  void begin_stop(int exit_code);
  void stop_at_once();

  // Listeners and status.
  void sweep_listeners();
  std::string status_line() const;
  // One more in the master's counts of the stats segment (/metrics), if there is one.
  void count_in_stats(std::atomic<uint64_t> master_counters::*field);
  void report_status(bool force = false);

  cli_options cli_;
  config cfg_;
  stats_segment* stats_;
  uint64_t fd_limit_;
  std::vector<std::unique_ptr<listener_group>> groups_;
  listener_group* current_group_ = nullptr;
  std::vector<worker> workers_;
  std::vector<slot_state> slots_;
  unsigned generation_ = 1;
  unsigned last_generation_ = 1;
  std::optional<reload_state> reload_;
  bool reload_queued_ = false;
  clock::time_point steered_at_{};  // when sockets were last retired from the current group
  bool ready_notified_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;
  std::optional<clock::time_point> stop_deadline_;
  clock::time_point next_status_at_{};
  std::string last_status_;
  std::vector<size_t> readable_;
  // Hand-over channels (worker/handover.h), one per slot ever used: [0] read by the slot's
  // worker, [1] written by every worker. Kept for the master's life, like the listeners, so a
  // respawned or reloaded worker of slot i reads slot i's channel.
  std::vector<std::array<int, 2>> channels_;
  void ensure_channels(size_t count);  // indexes into workers_ whose pipe polled readable
};

}  // namespace chatd
