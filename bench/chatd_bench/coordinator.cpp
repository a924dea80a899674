// The parent: process management, the common start, progress, deadline, merge and summary.

#include "bench/chatd_bench/coordinator.h"

#include "bench/chatd_bench/generator.h"
#include "bench/chatd_bench/ipc.h"
#include "bench/chatd_bench/proc_stats.h"
#include "bench/chatd_bench/report.h"
#include "bench/chatd_bench/wire_bytes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace chatd::bench {

namespace {

uint64_t now_us() { return uv_hrtime() / 1000; }

// The common start is this far after the last process reported ready, so `go` reaches every
// process before it.
constexpr uint64_t go_lead_us = 50'000;
// Beyond every phase's own bound, time allowed for starting and closing connections.
constexpr double deadline_margin_s = 30;
// After `stop` (deadline or signal) or `close`, how long processes get before SIGKILL.
constexpr uint64_t kill_grace_ms = 10'000;

struct child_proc {
  pid_t pid = -1;
  int to_fd = -1;    // parent writes
  int from_fd = -1;  // parent reads
  uv_pipe_t to{}, from{};
  ipc::message_reader reader;
  run_result latest;
  bool connected = false;
  bool final = false;
  bool eof = false;
  bool bad = false;  // died early or sent garbage
  char buffer[64 * 1024];
};

class coordinator {
 public:
  coordinator(const options& o, std::vector<std::unique_ptr<child_proc>> children)
      : o_(o), children_(std::move(children)) {}
  int run();

 private:
  void on_message(child_proc& c, const ipc::message& m);
  void on_eof(child_proc& c);
  void maybe_go();
  void maybe_finish();
  void send_all(ipc::kind k, std::string_view body);
  void print_progress();
  void hard_stop(std::string_view why);
  void kill_children();
  void close_handles();
  std::string_view phase(uint64_t now) const;
  run_result merged() const;

  const options& o_;
  std::vector<std::unique_ptr<child_proc>> children_;
  uv_loop_t loop_{};
  uv_timer_t progress_timer_{}, deadline_timer_{}, kill_timer_{};
  uv_signal_t sigint_{}, sigterm_{};
  uint64_t start_us_ = now_us();
  uint64_t t0_ = 0, measure_start_ = 0, send_end_ = 0, report_at_ = 0;
  uint64_t stopped_at_ = 0;  // when a stop was sent early (0: never)
  bool went_ = false, finished_ = false, handles_closed_ = false;
  uint64_t last_progress_us_ = 0, last_received_ = 0;
  run_extras extras_;
  proc_sample server_before_;
};

int coordinator::run() {
  if (!o_.server_pids.empty()) server_before_ = sample_processes(o_.server_pids);
  uv_loop_init(&loop_);
  for (auto& c : children_) {
    uv_pipe_init(&loop_, &c->to, 0);
    uv_pipe_init(&loop_, &c->from, 0);
    uv_pipe_open(&c->to, c->to_fd);
    uv_pipe_open(&c->from, c->from_fd);
    c->from.data = this;
    c->to.data = c.get();
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->from),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<coordinator*>(h->data);
          for (auto& cp : self->children_) {
            if (reinterpret_cast<uv_handle_t*>(&cp->from) == h) {
              *buf = uv_buf_init(cp->buffer, sizeof cp->buffer);
            }
          }
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          auto* self = static_cast<coordinator*>(s->data);
          for (auto& cp : self->children_) {
            if (reinterpret_cast<uv_stream_t*>(&cp->from) != s) continue;
            if (nread < 0) {
              self->on_eof(*cp);
              return;
            }
            cp->reader.append(std::string_view(buf->base, static_cast<size_t>(nread)));
            while (auto m = cp->reader.next()) self->on_message(*cp, *m);
            if (cp->reader.corrupt()) {
              cp->bad = true;
              self->on_eof(*cp);
            }
            return;
          }
        });
  }
  for (uv_timer_t* t : {&progress_timer_, &deadline_timer_, &kill_timer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
  if (!o_.quiet) {
    uv_timer_start(&progress_timer_, [](uv_timer_t* t) { static_cast<coordinator*>(t->data)->print_progress(); },
                   1000, 1000);
  }
  const double bound_s = o_.max_connect_s + o_.warmup_s + o_.duration_s + o_.drain_ms / 1000.0 +
                         deadline_margin_s;
  uv_timer_start(&deadline_timer_,
                 [](uv_timer_t* t) { static_cast<coordinator*>(t->data)->hard_stop("hard deadline"); },
                 static_cast<uint64_t>(bound_s * 1000), 0);
  for (auto [sig, handle] : {std::pair{SIGINT, &sigint_}, std::pair{SIGTERM, &sigterm_}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, [](uv_signal_t* s, int) { static_cast<coordinator*>(s->data)->hard_stop("signal"); },
                    sig);
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);

  for (auto& c : children_) {
    int status = 0;
    if (waitpid(c->pid, &status, 0) == c->pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      c->bad = true;
    }
  }
  for (auto& c : children_) extras_.procs_failed += c->bad || !c->final;

  const run_result r = merged();
  extras_.elapsed_s = static_cast<double>(now_us() - start_us_) / 1e6;
  if (o_.mode == run_mode::fanout) {
    uint64_t end = send_end_;
    if (stopped_at_ != 0 && stopped_at_ < end) end = stopped_at_;
    extras_.counted_s = went_ && end > measure_start_ ? static_cast<double>(end - measure_start_) / 1e6 : 0;
  } else if (o_.mode == run_mode::idle) {
    extras_.counted_s = o_.duration_s;
  }
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  auto secs = [](const timeval& a, const timeval& b) {
    return static_cast<double>(a.tv_sec + b.tv_sec) + static_cast<double>(a.tv_usec + b.tv_usec) / 1e6;
  };
  extras_.cpu_user_s = secs(self.ru_utime, kids.ru_utime);
  extras_.cpu_sys_s = secs(self.ru_stime, kids.ru_stime);

  const std::string text = format_text(o_, r, extras_);
  std::fputs(text.c_str(), o_.json ? stderr : stdout);
  if (o_.json) std::printf("%s\n", format_json(o_, r, extras_).c_str());
  std::fflush(stdout);
  return extras_.deadline_hit || extras_.procs_failed ? 1 : 0;
}

void coordinator::on_message(child_proc& c, const ipc::message& m) {
  auto r = deserialize_result(m.body);
  if (!r) {
    c.bad = true;
    return;
  }
  c.latest = std::move(*r);
  if (m.type == ipc::kind::connected) {
    c.connected = true;
    maybe_go();
  } else if (m.type == ipc::kind::final) {
    c.connected = true;
    c.final = true;
    maybe_finish();
  }
}

void coordinator::on_eof(child_proc& c) {
  if (c.eof) return;
  c.eof = true;
  if (!c.final) c.bad = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.from));
  maybe_go();
  maybe_finish();
  bool all_gone = true;
  for (auto& cp : children_) all_gone = all_gone && cp->eof;
  if (all_gone) close_handles();
}

void coordinator::maybe_go() {
  if (went_ || stopped_at_ != 0) return;
  for (auto& c : children_) {
    if (!c->connected && !c->eof) return;
  }
  went_ = true;
  t0_ = now_us() + go_lead_us;
  const auto us = [](double s) { return static_cast<uint64_t>(s * 1e6); };
  measure_start_ = t0_ + (o_.mode == run_mode::fanout ? us(o_.warmup_s) : 0);
  send_end_ = measure_start_ + (o_.mode == run_mode::storm ? 0 : us(o_.duration_s));
  report_at_ = send_end_ + (o_.mode == run_mode::fanout ? uint64_t{o_.drain_ms} * 1000 : 0);
  std::string body;
  put_u64(body, t0_);
  send_all(ipc::kind::go, body);
}

void coordinator::maybe_finish() {
  if (finished_) return;
  for (auto& c : children_) {
    if (!c->final && !c->eof) return;
  }
  finished_ = true;
  // Connections are still open here: this is the server's memory while it holds them.
  if (!o_.server_pids.empty()) {
    const proc_sample after = sample_processes(o_.server_pids);
    extras_.have_server = true;
    extras_.server_processes = after.processes;
    extras_.server_rss_before_kib = server_before_.rss_kib;
    extras_.server_rss_after_kib = after.rss_kib;
    extras_.server_cpu_s = after.cpu_s - server_before_.cpu_s;
  }
  if (!o_.quiet) print_progress();
  send_all(ipc::kind::close, {});
  uv_timer_stop(&progress_timer_);
  uv_timer_stop(&deadline_timer_);
  uv_timer_start(&kill_timer_, [](uv_timer_t* t) { static_cast<coordinator*>(t->data)->kill_children(); },
                 kill_grace_ms, 0);
}

void coordinator::send_all(ipc::kind k, std::string_view body) {
  for (auto& c : children_) {
    if (c->eof || uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->to))) continue;
    struct req {
      uv_write_t w;
      std::string data;
    };
    auto* r = new req{{}, ipc::encode(k, body)};
    r->w.data = r;
    uv_buf_t buf = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    if (uv_write(&r->w, reinterpret_cast<uv_stream_t*>(&c->to), &buf, 1,
                 [](uv_write_t* w, int) { delete static_cast<req*>(w->data); }) != 0) {
      delete r;
    }
  }
}

void coordinator::hard_stop(std::string_view why) {
  if (finished_) {
    kill_children();
    return;
  }
  if (stopped_at_ != 0) return;
  std::fprintf(stderr, "chatd-bench: %.*s: stopping\n", static_cast<int>(why.size()), why.data());
  extras_.deadline_hit = true;
  stopped_at_ = now_us();
  send_all(ipc::kind::stop, {});
  uv_timer_start(&kill_timer_, [](uv_timer_t* t) { static_cast<coordinator*>(t->data)->kill_children(); },
                 kill_grace_ms, 0);
}

void coordinator::kill_children() {
  for (auto& c : children_) {
    if (!c->eof) {
      std::fprintf(stderr, "chatd-bench: generator %d does not finish: killing it\n", c->pid);
      ::kill(c->pid, SIGKILL);
      c->bad = true;
    }
  }
}

void coordinator::close_handles() {
  if (handles_closed_) return;
  handles_closed_ = true;
  for (auto& c : children_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->to), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->from), nullptr);
  }
  for (uv_timer_t* t : {&progress_timer_, &deadline_timer_, &kill_timer_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
}

std::string_view coordinator::phase(uint64_t now) const {
  if (finished_) return "done";
  if (!went_) return "connect";
  if (now < t0_) return "start";
  switch (o_.mode) {
    case run_mode::fanout:
      if (now < measure_start_) return "warmup";
      if (now < send_end_) return "run";
      return "drain";
    case run_mode::idle:
      return "hold";
    case run_mode::storm:
      return "done";
  }
  return "";
}

run_result coordinator::merged() const {
  run_result r;
  for (const auto& c : children_) r.merge(c->latest);
  return r;
}

void coordinator::print_progress() {
  const uint64_t now = now_us();
  const run_result r = merged();
  const double dt = last_progress_us_ ? static_cast<double>(now - last_progress_us_) / 1e6 : 0;
  const double rate = dt > 0 ? static_cast<double>(r.received_total - last_received_) / dt : 0;
  last_progress_us_ = now;
  last_received_ = r.received_total;
  const std::string line =
      format_progress(static_cast<double>(now - start_us_) / 1e6, phase(now), r, rate);
  std::fprintf(stderr, "%s\n", line.c_str());
}

// Soft open-file limit up to the hard one; returns the limit now in force.
rlim_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// Descriptors a generator uses besides its clients: stdio, pipes, the loop's own.
constexpr rlim_t fd_reserve = 64;

}  // namespace

int run_benchmark(const options& o) {
  signal(SIGPIPE, SIG_IGN);
  const rlim_t limit = raise_fd_limit();
  const uint64_t per_proc = (o.clients() + o.procs - 1) / o.procs;
  if (limit != RLIM_INFINITY && per_proc + fd_reserve > limit) {
    const uint64_t usable = limit > fd_reserve ? limit - fd_reserve : 1;
    std::fprintf(stderr,
                 "chatd-bench: %llu clients in %u process(es) is %llu per process, above the "
                 "open-file limit %llu: use --procs %llu or more\n",
                 static_cast<unsigned long long>(o.clients()), o.procs,
                 static_cast<unsigned long long>(per_proc), static_cast<unsigned long long>(limit),
                 static_cast<unsigned long long>((o.clients() + usable - 1) / usable));
    return 1;
  }

  std::vector<std::unique_ptr<child_proc>> children;
  std::vector<int> parent_fds;  // closed in every later child
  for (uint32_t p = 0; p < o.procs; ++p) {
    int down[2], up[2];  // down: parent -> child; up: child -> parent
    if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) {
      std::perror("chatd-bench: pipe");
      return 1;
    }
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("chatd-bench: fork");
      return 1;
    }
    if (pid == 0) {
      for (int fd : parent_fds) ::close(fd);
      ::close(down[1]);
      ::close(up[0]);
      signal(SIGINT, SIG_IGN);  // the parent decides when to stop
      signal(SIGTERM, SIG_IGN);
      raise_fd_limit();
      int rc = run_generator(o, p, up[1], down[0]);
      std::fflush(nullptr);
      _exit(rc);
    }
    ::close(down[0]);
    ::close(up[1]);
    auto c = std::make_unique<child_proc>();
    c->pid = pid;
    c->to_fd = down[1];
    c->from_fd = up[0];
    parent_fds.push_back(down[1]);
    parent_fds.push_back(up[0]);
    children.push_back(std::move(c));
  }
  coordinator co(o, std::move(children));
  return co.run();
}

}  // namespace chatd::bench
