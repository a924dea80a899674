// Merging, moving and printing chatd-bench results.

#include "bench/chatd_bench/report.h"

#include "bench/chatd_bench/wire_bytes.h"

#include <algorithm>

#include <fmt/format.h>

namespace chatd::bench {

namespace {

void add_vectors(std::vector<uint64_t>& into, const std::vector<uint64_t>& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) into[i] += from[i];
}

void put_vector(std::string& out, const std::vector<uint64_t>& v) {
  put_u64(out, v.size());
  for (uint64_t x : v) put_u64(out, x);
}

bool get_vector(std::string_view& in, std::vector<uint64_t>& v) {
  auto n = get_u64(in);
  if (!n || *n > in.size() / sizeof(uint64_t)) return false;
  v.resize(*n);
  for (uint64_t& x : v) x = *get_u64(in);
  return true;
}

std::string_view mode_name(run_mode m) {
  switch (m) {
    case run_mode::fanout:
      return "fanout";
    case run_mode::idle:
      return "idle";
    case run_mode::storm:
      return "storm";
  }
  return "?";
}

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

double per_second(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

double storm_rate(const run_result& r) {
  if (r.first_connect_us == 0 || r.last_connect_us <= r.first_connect_us) return 0;
  return per_second(r.connect_ok, static_cast<double>(r.last_connect_us - r.first_connect_us) / 1e6);
}

uint64_t connected_at_end(const run_result& r) {
  return r.connect_ok > r.dropped ? r.connect_ok - r.dropped : 0;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

struct percentiles {
  double p50, p90, p99, p999, max, mean;
};

percentiles latency_ms(const histogram& h) {
  return {ms(h.value_at(50)),   ms(h.value_at(90)), ms(h.value_at(99)),
          ms(h.value_at(99.9)), ms(h.max()),        h.mean() / 1000.0};
}

}  // namespace

void run_result::merge(const run_result& o) {
  planned += o.planned;
  connect_ok += o.connect_ok;
  connect_failed += o.connect_failed;
  dropped += o.dropped;
  for (const auto& [why, n] : o.failures) failures[why] += n;
  sent += o.sent;
  sent_total += o.sent_total;
  received += o.received;
  received_total += o.received_total;
  acks += o.acks;
  send_backlog += o.send_backlog;
  if (o.first_connect_us != 0 && (first_connect_us == 0 || o.first_connect_us < first_connect_us)) {
    first_connect_us = o.first_connect_us;
  }
  last_connect_us = std::max(last_connect_us, o.last_connect_us);
  add_vectors(room_members, o.room_members);
  add_vectors(room_sent, o.room_sent);
  latency.merge(o.latency);
}

uint64_t run_result::expected() const {
  uint64_t total = 0;
  for (size_t r = 0; r < room_sent.size(); ++r) {
    const uint64_t members = r < room_members.size() ? room_members[r] : 0;
    if (members > 1) total += room_sent[r] * (members - 1);
  }
  return total;
}

void serialize(const run_result& r, std::string& out) {
  for (uint64_t v : {r.planned, r.connect_ok, r.connect_failed, r.dropped, r.sent, r.sent_total,
                     r.received, r.received_total, r.acks, r.send_backlog, r.first_connect_us,
                     r.last_connect_us}) {
    put_u64(out, v);
  }
  put_u64(out, r.failures.size());
  for (const auto& [why, n] : r.failures) {
    put_bytes(out, why);
    put_u64(out, n);
  }
  put_vector(out, r.room_members);
  put_vector(out, r.room_sent);
  r.latency.serialize(out);
}

std::optional<run_result> deserialize_result(std::string_view in) {
  run_result r;
  for (uint64_t* v : {&r.planned, &r.connect_ok, &r.connect_failed, &r.dropped, &r.sent,
                      &r.sent_total, &r.received, &r.received_total, &r.acks, &r.send_backlog,
                      &r.first_connect_us, &r.last_connect_us}) {
    auto x = get_u64(in);
    if (!x) return std::nullopt;
    *v = *x;
  }
  auto nfail = get_u64(in);
  if (!nfail) return std::nullopt;
  for (uint64_t i = 0; i < *nfail; ++i) {
    auto why = get_bytes(in);
    auto n = why ? get_u64(in) : std::nullopt;
    if (!n) return std::nullopt;
    r.failures[std::string(*why)] += *n;
  }
  if (!get_vector(in, r.room_members) || !get_vector(in, r.room_sent)) return std::nullopt;
  auto h = histogram::deserialize(in);
  if (!h || !in.empty()) return std::nullopt;
  r.latency = *h;
  return r;
}

std::string format_text(const options& o, const run_result& r, const run_extras& x) {
  std::string s;
  auto line = [&s](std::string text) {
    s += text;
    s += '\n';
  };
  line(fmt::format("chatd-bench {}: {} rooms x {} members ({} clients), {} target(s), {} process(es)",
                   mode_name(o.mode), o.rooms, o.members, o.clients(), o.targets.size(), o.procs));
  line(fmt::format("connections: {} ok, {} failed, {} dropped, {} connected at the end",
                   r.connect_ok, r.connect_failed, r.dropped, connected_at_end(r)));
  for (const auto& [why, n] : r.failures) line(fmt::format("  {:>8}  {}", n, why));
  if (o.mode == run_mode::storm) {
    line(fmt::format("handshakes: {:.0f}/s ({} in {:.3f} s)", storm_rate(r), r.connect_ok,
                     r.last_connect_us > r.first_connect_us
                         ? static_cast<double>(r.last_connect_us - r.first_connect_us) / 1e6
                         : 0.0));
  }
  if (o.mode == run_mode::fanout) {
    const uint64_t expected = r.expected();
    const int64_t loss = static_cast<int64_t>(expected) - static_cast<int64_t>(r.received);
    line(fmt::format("messages: {} sent in {:.1f} s ({:.0f}/s{}), {} senders/room, payload {} B",
                     r.sent, x.counted_s, per_second(r.sent, x.counted_s),
                     o.rate > 0 ? fmt::format(", target {:.0f}/s", o.rate) : std::string(", acked"),
                     o.senders, o.payload));
    line(fmt::format("deliveries: {} expected, {} received, loss {} ({:.4f} %)", expected,
                     r.received, loss,
                     expected ? 100.0 * static_cast<double>(loss) / static_cast<double>(expected) : 0.0));
    line(fmt::format("delivered: {:.0f} msgs/s", per_second(r.received, x.counted_s)));
    const percentiles p = latency_ms(r.latency);
    line(fmt::format("latency ms: p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}  (mean {:.3f})",
                     p.p50, p.p90, p.p99, p.p999, p.max, p.mean));
    if (o.rate == 0 && r.sent_total > 0 && r.acks == 0) {
      line("warning: no acknowledgement arrived: this server does not answer emit acks, so "
           "--rate 0 stalls after --inflight messages per sender; use a --rate");
    }
    if (r.send_backlog > 0) {
      line(fmt::format("warning: the generator fell behind the rate by {} messages", r.send_backlog));
    }
  }
  line(fmt::format("chatd-bench cpu: {:.2f} s user, {:.2f} s sys, over {:.1f} s", x.cpu_user_s,
                   x.cpu_sys_s, x.elapsed_s));
  if (x.have_server) {
    const uint64_t conns = connected_at_end(r);
    const double after = static_cast<double>(x.server_rss_after_kib) * 1024.0;
    const double before = static_cast<double>(x.server_rss_before_kib) * 1024.0;
    line(fmt::format("server ({} processes): RSS {:.1f} MiB at the end ({:.1f} MiB before), "
                     "{:.0f} B per connection ({:.0f} B above the start), cpu {:.2f} s",
                     x.server_processes, after / 1048576.0, before / 1048576.0,
                     conns ? after / static_cast<double>(conns) : 0.0,
                     conns ? (after - before) / static_cast<double>(conns) : 0.0, x.server_cpu_s));
  }
  if (x.deadline_hit) line("warning: stopped early (hard deadline or signal): figures are partial");
  if (x.procs_failed) line(fmt::format("warning: {} generator process(es) failed", x.procs_failed));
  return s;
}

std::string format_json(const options& o, const run_result& r, const run_extras& x) {
  std::string s = "{";
  bool first = true;
  auto field = [&](std::string_view key, const std::string& value) {
    if (!first) s += ',';
    first = false;
    s += json_string(key);
    s += ':';
    s += value;
  };
  auto num = [](double v) { return fmt::format("{:.6g}", v); };
  auto u = [](uint64_t v) { return std::to_string(v); };
  field("mode", json_string(mode_name(o.mode)));
  field("rooms", u(o.rooms));
  field("members", u(o.members));
  field("senders", u(o.senders));
  field("clients", u(o.clients()));
  field("procs", u(o.procs));
  field("targets", u(o.targets.size()));
  field("connections_ok", u(r.connect_ok));
  field("connections_failed", u(r.connect_failed));
  field("connections_dropped", u(r.dropped));
  field("connections_at_end", u(connected_at_end(r)));
  std::string reasons = "{";
  for (const auto& [why, n] : r.failures) {
    if (reasons.size() > 1) reasons += ',';
    reasons += json_string(why) + ":" + u(n);
  }
  field("failures", reasons + "}");
  if (o.mode == run_mode::storm) field("handshakes_per_s", num(storm_rate(r)));
  if (o.mode == run_mode::fanout) {
    const uint64_t expected = r.expected();
    field("rate_target", num(o.rate));
    field("payload", u(o.payload));
    field("counted_s", num(x.counted_s));
    field("sent", u(r.sent));
    field("sent_per_s", num(per_second(r.sent, x.counted_s)));
    field("expected", u(expected));
    field("received", u(r.received));
    field("loss", std::to_string(static_cast<int64_t>(expected) - static_cast<int64_t>(r.received)));
    field("delivered_per_s", num(per_second(r.received, x.counted_s)));
    field("send_backlog", u(r.send_backlog));
    field("acks", u(r.acks));
    const percentiles p = latency_ms(r.latency);
    field("latency_ms", fmt::format(R"({{"p50":{},"p90":{},"p99":{},"p99_9":{},"max":{},"mean":{},"count":{}}})",
                                    num(p.p50), num(p.p90), num(p.p99), num(p.p999), num(p.max),
                                    num(p.mean), r.latency.count()));
  }
  field("elapsed_s", num(x.elapsed_s));
  field("cpu_user_s", num(x.cpu_user_s));
  field("cpu_sys_s", num(x.cpu_sys_s));
  if (x.have_server) {
    const uint64_t conns = connected_at_end(r);
    const double after = static_cast<double>(x.server_rss_after_kib) * 1024.0;
    const double before = static_cast<double>(x.server_rss_before_kib) * 1024.0;
    field("server_processes", u(x.server_processes));
    field("server_rss_before_bytes", num(before));
    field("server_rss_after_bytes", num(after));
    field("server_rss_per_connection_bytes", num(conns ? after / static_cast<double>(conns) : 0.0));
    field("server_rss_delta_per_connection_bytes",
          num(conns ? (after - before) / static_cast<double>(conns) : 0.0));
    field("server_cpu_s", num(x.server_cpu_s));
  }
  field("deadline_hit", x.deadline_hit ? "true" : "false");
  field("procs_failed", u(x.procs_failed));
  return s + "}";
}

std::string format_progress(double elapsed_s, std::string_view phase, const run_result& r,
                            double recv_rate) {
  std::string p99 = r.latency.count() ? fmt::format("{:.2f} ms", ms(r.latency.value_at(99))) : "-";
  return fmt::format("[{:6.1f}s {:>7}] conn {}/{} fail {} drop {} | sent {} recv {} | {:.0f} recv/s | p99 {}",
                     elapsed_s, phase, r.connect_ok - std::min(r.connect_ok, r.dropped), r.planned,
                     r.connect_failed, r.dropped, r.sent_total, r.received_total, recv_rate, p99);
}

}  // namespace chatd::bench
