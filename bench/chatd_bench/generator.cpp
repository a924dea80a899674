// A generator process: connect phase, scenario, counting, reporting to the parent, closing.

#include "bench/chatd_bench/generator.h"

#include "bench/chatd_bench/client.h"
#include "bench/chatd_bench/ipc.h"
#include "bench/chatd_bench/pacing.h"
#include "bench/chatd_bench/report.h"
#include "bench/chatd_bench/wire_bytes.h"

#include <uv.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace chatd::bench {

namespace {

uint64_t now_us() { return uv_hrtime() / 1000; }

// Handshake timeouts are checked this often; a timeout fires at most this late.
constexpr uint64_t sweep_interval_ms = 100;
// Paced sending: the timer period, and the most one tick sends (in seconds of the process's
// rate) so a stalled loop catches up in steps instead of one burst that starves reading.
constexpr uint64_t pace_interval_ms = 1;
constexpr double pace_max_burst_s = 0.05;
constexpr size_t read_buffer_size = 256 * 1024;
// Progress reaches the parent several times per printed line, so each line shows fresh figures.
constexpr uint64_t progress_interval_ms = 250;

std::string padding(size_t n) { return std::string(n, 'x'); }

class generator final : public client_owner {
 public:
  generator(const options& o, uint32_t proc, int to_parent_fd, int from_parent_fd);
  int run();

 private:
  enum class phase { connecting, waiting, running, reported, closing };

  struct sender {
    client* c = nullptr;
    std::string head;  // ["message",{"userId":..,"channel":..,"body":"
    uint64_t seq = 0;
    uint64_t next_ack_id = 0;
    uint32_t inflight = 0;
  };

  // client_owner
  void on_connected(client& c) override;
  void on_connect_failed(client& c, std::string reason) override;
  void on_dropped(client& c, std::string reason) override;
  void on_chat(client& c, std::string_view args) override;
  void on_ack(client& c) override;
  void on_closed(client& c) override;

  void pump_connects();
  void sweep_timeouts();
  void end_connect_phase_if_done();
  void connect_deadline();
  void on_parent_message(const ipc::message& m);
  void go(uint64_t t0);
  void advance();  // acts on the milestone(s) reached: start sending, stop sending, report
  void arm_phase_timer(uint64_t at_us);
  void pace();
  void send_due(uint64_t now);  // sends what the pacer says is due, round-robin over senders
  void send_message(sender& s, uint64_t now);
  void report_final();
  void send_progress(ipc::kind k);
  void write_to_parent(std::string bytes);
  void close_everything();

  static void on_pipe_alloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void on_pipe_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);

  const options& o_;
  uint32_t proc_;
  int to_parent_fd_;
  int from_parent_fd_;
  uv_loop_t loop_{};
  client_context ctx_;
  std::vector<char> read_buffer_;
  std::vector<std::unique_ptr<client>> clients_;
  std::vector<sender> senders_;          // this process's senders, connected or not
  std::vector<size_t> active_senders_;   // indexes into senders_, connected when sending began
  std::string pad_;                      // body padding, sliced per message
  run_result result_;
  phase phase_ = phase::connecting;

  size_t next_connect_ = 0;    // clients_[..next_connect_) have been started
  size_t oldest_pending_ = 0;  // no handshake in progress before this index
  uint32_t in_flight_ = 0;
  uint32_t concurrency_;
  bool pumping_ = false;

  uint64_t t0_ = 0, measure_start_ = 0, send_end_ = 0, report_at_ = 0;
  bool sending_ = false;
  bool windows_opened_ = false;
  double process_rate_ = 0;  // this process's share of --rate
  std::optional<pacer> pacer_;
  rotation rotation_;

  uv_timer_t sweep_timer_{}, progress_timer_{}, pace_timer_{}, phase_timer_{}, deadline_timer_{};
  uv_pipe_t out_{}, in_{};
  ipc::message_reader reader_;
  char pipe_buffer_[64 * 1024];
};

generator::generator(const options& o, uint32_t proc, int to_parent_fd, int from_parent_fd)
    : o_(o),
      proc_(proc),
      to_parent_fd_(to_parent_fd),
      from_parent_fd_(from_parent_fd),
      read_buffer_(read_buffer_size),
      concurrency_(concurrency_share(o.connect_concurrency, o.procs)) {
  ctx_.loop = &loop_;
  ctx_.owner = this;
  ctx_.opts = &o_;
  ctx_.read_buffer = read_buffer_.data();
  ctx_.read_buffer_size = read_buffer_.size();
  ctx_.rng ^= (uint64_t{proc} + 1) * 0x100000001B3ull ^ uv_hrtime();

  const uint64_t total = o.clients();
  clients_.reserve(static_cast<size_t>(total / o.procs + 1));
  for (uint64_t i = proc; i < total; i += o.procs) {
    const auto room = static_cast<uint32_t>(i / o.members);
    const auto member = static_cast<uint32_t>(i % o.members);
    const target& to = o.targets[i % o.targets.size()];
    const sockaddr_storage* from =
        o.sources.empty() ? nullptr : &o.sources[(i / o.targets.size()) % o.sources.size()];
    auto c = std::make_unique<client>(ctx_, static_cast<uint32_t>(i), room, to, from);
    if (o.mode == run_mode::fanout && member < o.senders) {
      c->tag = static_cast<uint32_t>(senders_.size());
      sender s;
      s.c = c.get();
      s.head = fmt::format(R"(["message",{{"userId":"u{}","channel":"{}-{}","body":")", i,
                           o.room_prefix, room);
      senders_.push_back(std::move(s));
    }
    clients_.push_back(std::move(c));
  }
  pad_ = padding(o.payload);
  result_.planned = clients_.size();
  if (o.mode == run_mode::fanout) {
    result_.room_members.assign(o.rooms, 0);
    result_.room_sent.assign(o.rooms, 0);
  }
}

int generator::run() {
  if (uv_loop_init(&loop_) != 0) return 1;
  uv_pipe_init(&loop_, &out_, 0);
  uv_pipe_init(&loop_, &in_, 0);
  if (uv_pipe_open(&out_, to_parent_fd_) != 0 || uv_pipe_open(&in_, from_parent_fd_) != 0) {
    std::fprintf(stderr, "chatd-bench[%u]: cannot use the pipes to the parent\n", proc_);
    return 1;
  }
  out_.data = in_.data = this;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&in_), on_pipe_alloc, on_pipe_read);

  for (uv_timer_t* t : {&sweep_timer_, &progress_timer_, &pace_timer_, &phase_timer_, &deadline_timer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
  uv_timer_start(&sweep_timer_, [](uv_timer_t* t) { static_cast<generator*>(t->data)->sweep_timeouts(); },
                 sweep_interval_ms, sweep_interval_ms);
  uv_timer_start(&progress_timer_,
                 [](uv_timer_t* t) { static_cast<generator*>(t->data)->send_progress(ipc::kind::progress); },
                 progress_interval_ms, progress_interval_ms);
  uv_timer_start(&deadline_timer_, [](uv_timer_t* t) { static_cast<generator*>(t->data)->connect_deadline(); },
                 static_cast<uint64_t>(o_.max_connect_s * 1000.0), 0);

  result_.first_connect_us = now_us();
  pump_connects();
  end_connect_phase_if_done();
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) std::fprintf(stderr, "chatd-bench[%u]: loop closed with handles left\n", proc_);
  return 0;
}

// ---- connect phase -------------------------------------------------------------------------

void generator::pump_connects() {
  if (pumping_) return;  // a start() that fails at once calls back into here
  pumping_ = true;
  const uint64_t now = now_us();
  while (phase_ == phase::connecting && in_flight_ < concurrency_ && next_connect_ < clients_.size()) {
    ++in_flight_;
    clients_[next_connect_++]->start(now);
  }
  pumping_ = false;
}

void generator::sweep_timeouts() {
  const uint64_t now = now_us();
  while (oldest_pending_ < next_connect_ && !clients_[oldest_pending_]->handshaking()) {
    ++oldest_pending_;
  }
  for (size_t i = oldest_pending_; i < next_connect_; ++i) clients_[i]->check_timeout(now);
}

void generator::end_connect_phase_if_done() {
  if (phase_ != phase::connecting || next_connect_ < clients_.size() || in_flight_ > 0) return;
  phase_ = phase::waiting;
  uv_timer_stop(&sweep_timer_);
  uv_timer_stop(&deadline_timer_);
  send_progress(ipc::kind::connected);
}

void generator::connect_deadline() {
  if (phase_ != phase::connecting) return;
  const std::string why = "connect phase over (--max-connect-time)";
  const uint64_t never_started = clients_.size() - next_connect_;
  if (never_started > 0) {
    result_.connect_failed += never_started;
    result_.failures[why + ", not started"] += never_started;
    next_connect_ = clients_.size();
  }
  for (size_t i = oldest_pending_; i < clients_.size(); ++i) {
    client& c = *clients_[i];
    if (!c.connected()) c.fail(why);
  }
  end_connect_phase_if_done();
}

void generator::on_connected(client&) {
  --in_flight_;
  ++result_.connect_ok;
  result_.last_connect_us = now_us();
  pump_connects();
  end_connect_phase_if_done();
}

void generator::on_connect_failed(client&, std::string reason) {
  --in_flight_;
  ++result_.connect_failed;
  ++result_.failures[std::move(reason)];
  pump_connects();
  end_connect_phase_if_done();
}

void generator::on_dropped(client&, std::string reason) {
  if (phase_ == phase::closing) return;
  ++result_.dropped;
  ++result_.failures["dropped: " + reason];
}

void generator::on_closed(client&) {}

// ---- scenario ------------------------------------------------------------------------------

void generator::go(uint64_t t0) {
  if (phase_ != phase::waiting) return;
  phase_ = phase::running;
  t0_ = t0;
  const auto us = [](double s) { return static_cast<uint64_t>(s * 1e6); };
  switch (o_.mode) {
    case run_mode::fanout:
      for (const auto& c : clients_) {
        if (c->connected()) ++result_.room_members[c->room()];
      }
      for (size_t i = 0; i < senders_.size(); ++i) {
        if (senders_[i].c->connected()) active_senders_.push_back(i);
      }
      measure_start_ = t0 + us(o_.warmup_s);
      send_end_ = measure_start_ + us(o_.duration_s);
      report_at_ = send_end_ + uint64_t{o_.drain_ms} * 1000;
      sending_ = true;
      if (o_.rate > 0 && !senders_.empty()) {
        const double total_senders = double(o_.rooms) * o_.senders;
        process_rate_ = o_.rate * static_cast<double>(senders_.size()) / total_senders;
        pacer_.emplace(process_rate_, t0);
        uv_timer_start(&pace_timer_, [](uv_timer_t* t) { static_cast<generator*>(t->data)->pace(); },
                       0, pace_interval_ms);
      }
      break;
    case run_mode::idle:
      report_at_ = t0 + us(o_.duration_s);
      break;
    case run_mode::storm:
      report_at_ = t0;
      break;
  }
  advance();
}

void generator::arm_phase_timer(uint64_t at_us) {
  const uint64_t now = now_us();
  const uint64_t delay_ms = at_us > now ? (at_us - now + 999) / 1000 : 0;
  uv_timer_start(&phase_timer_, [](uv_timer_t* t) { static_cast<generator*>(t->data)->advance(); },
                 delay_ms, 0);
}

void generator::advance() {
  if (phase_ != phase::running) return;
  const uint64_t now = now_us();
  if (o_.mode == run_mode::fanout) {
    if (now < t0_) {
      arm_phase_timer(t0_);
      return;
    }
    // At --rate 0 every sender fills its window once; each ack then sends the next message.
    if (o_.rate == 0 && sending_ && !windows_opened_) {
      windows_opened_ = true;
      for (size_t i : active_senders_) {
        sender& s = senders_[i];
        while (s.inflight < o_.inflight && now < send_end_) send_message(s, now);
      }
    }
    if (now < send_end_) {
      arm_phase_timer(send_end_);
      return;
    }
    if (sending_) {
      if (pacer_) send_due(now);
      sending_ = false;
      uv_timer_stop(&pace_timer_);
      if (pacer_) result_.send_backlog = pacer_->backlog(send_end_ - 1);
    }
  }
  if (now < report_at_) {
    arm_phase_timer(report_at_);
    return;
  }
  report_final();
}

void generator::pace() {
  if (!sending_ || !pacer_) return;
  const uint64_t now = now_us();
  send_due(now);
  if (now >= send_end_) advance();
}

void generator::send_due(uint64_t now) {
  const auto cap = static_cast<uint64_t>(std::max(64.0, process_rate_ * pace_max_burst_s));
  // Past the end, what was scheduled before the end still goes (the last tick may have come up
  // to a millisecond early); nothing scheduled later.
  uint64_t n = pacer_->take_due(std::min(now, send_end_ - 1), cap);
  const size_t m = active_senders_.size();
  while (n > 0 && m > 0) {
    bool sent = false;
    for (size_t tries = 0; tries < m && !sent; ++tries) {
      sender& s = senders_[active_senders_[rotation_.next(m)]];
      if (s.c->connected()) {
        send_message(s, now);
        sent = true;
      }
    }
    if (!sent) break;  // every sender is gone
    --n;
  }
}

void generator::send_message(sender& s, uint64_t now) {
  thread_local std::string packet;
  char tail[64];
  auto tail_end = fmt::format_to_n(tail, sizeof tail, R"(","t":{},"seq":{}}}])", now, s.seq).out;
  const size_t tail_size = static_cast<size_t>(tail_end - tail);
  packet.assign("42");
  if (o_.rate == 0) {
    packet.append(std::to_string(s.next_ack_id++));
    ++s.inflight;
  }
  packet.append(s.head);
  const size_t fixed = packet.size() + tail_size;
  if (fixed < o_.payload) packet.append(pad_, 0, o_.payload - fixed);
  packet.append(tail, tail_size);
  ++s.seq;
  s.c->send_text(packet);
  ++result_.sent_total;
  if (now >= measure_start_) {
    ++result_.sent;
    ++result_.room_sent[s.c->room()];
  }
}

void generator::on_chat(client&, std::string_view args) {
  ++result_.received_total;
  if (phase_ != phase::running) return;
  const size_t at = args.rfind(R"("t":)");
  if (at == std::string_view::npos) return;
  const char* first = args.data() + at + 4;
  uint64_t t = 0;
  auto [end, ec] = std::from_chars(first, args.data() + args.size(), t);
  if (ec != std::errc() || end == first) return;
  if (t < measure_start_) return;  // sent during the warmup
  const uint64_t now = now_us();
  ++result_.received;
  result_.latency.record(now > t ? now - t : 0);
}

void generator::on_ack(client& c) {
  ++result_.acks;
  if (c.tag >= senders_.size()) return;
  sender& s = senders_[c.tag];
  if (s.inflight > 0) --s.inflight;
  if (o_.rate == 0 && sending_ && phase_ == phase::running && c.connected()) {
    const uint64_t now = now_us();
    if (now >= t0_ && now < send_end_) send_message(s, now);
  }
}

void generator::report_final() {
  if (phase_ != phase::running && phase_ != phase::waiting && phase_ != phase::connecting) return;
  if (sending_) {
    sending_ = false;
    if (pacer_) result_.send_backlog = pacer_->backlog(std::min(now_us(), send_end_ - 1));
  }
  phase_ = phase::reported;
  uv_timer_stop(&pace_timer_);
  uv_timer_stop(&phase_timer_);
  uv_timer_stop(&progress_timer_);
  send_progress(ipc::kind::final);
}

// ---- parent --------------------------------------------------------------------------------

void generator::send_progress(ipc::kind k) {
  std::string body;
  if (k == ipc::kind::progress) {
    // Per-room tables only matter at the end; progress lines do not need them.
    std::vector<uint64_t> members, sent;
    members.swap(result_.room_members);
    sent.swap(result_.room_sent);
    serialize(result_, body);
    members.swap(result_.room_members);
    sent.swap(result_.room_sent);
  } else {
    serialize(result_, body);
  }
  write_to_parent(ipc::encode(k, body));
}

void generator::write_to_parent(std::string bytes) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&out_))) return;
  struct req {
    uv_write_t w;
    std::string data;
  };
  auto* r = new req{{}, std::move(bytes)};
  r->w.data = r;
  uv_buf_t buf = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
  int rc = uv_write(&r->w, reinterpret_cast<uv_stream_t*>(&out_), &buf, 1,
                    [](uv_write_t* w, int) { delete static_cast<req*>(w->data); });
  if (rc != 0) delete r;
}

void generator::on_pipe_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* g = static_cast<generator*>(h->data);
  *buf = uv_buf_init(g->pipe_buffer_, sizeof g->pipe_buffer_);
}

void generator::on_pipe_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* g = static_cast<generator*>(s->data);
  if (nread < 0) {
    g->close_everything();  // the parent is gone (or finished with us)
    return;
  }
  g->reader_.append(std::string_view(buf->base, static_cast<size_t>(nread)));
  while (auto m = g->reader_.next()) g->on_parent_message(*m);
  if (g->reader_.corrupt()) g->close_everything();
}

void generator::on_parent_message(const ipc::message& m) {
  switch (m.type) {
    case ipc::kind::go: {
      std::string_view body(m.body);
      if (auto t0 = get_u64(body)) go(*t0);
      break;
    }
    case ipc::kind::stop:
      if (phase_ == phase::connecting) {
        // Stop connecting: what is not connected yet counts as failed.
        connect_deadline();
      }
      if (phase_ == phase::running || phase_ == phase::waiting) report_final();
      break;
    case ipc::kind::close:
      close_everything();
      break;
    default:
      break;
  }
}

void generator::close_everything() {
  if (phase_ == phase::closing) return;
  phase_ = phase::closing;
  for (auto& c : clients_) c->close();
  for (uv_timer_t* t : {&sweep_timer_, &progress_timer_, &pace_timer_, &phase_timer_, &deadline_timer_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&in_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&out_), nullptr);
}

}  // namespace

uint32_t concurrency_share(uint32_t total, uint32_t procs) {
  return procs == 0 ? total : std::max<uint32_t>(1, (total + procs - 1) / procs);
}

int run_generator(const options& o, uint32_t proc, int to_parent_fd, int from_parent_fd) {
  auto g = std::make_unique<generator>(o, proc, to_parent_fd, from_parent_fd);
  return g->run();
}

}  // namespace chatd::bench
