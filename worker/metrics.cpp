// /metrics and /healthz bodies. Every worker can answer for the whole daemon because the stats
// segment is shared. Counters and histograms are whole-daemon (the retired workers' counts plus
// the live ones', common/stats.h), one series each, without worker labels: they do not go down
// when a worker is respawned or a reload retires a generation. Gauges are per worker process,
// labelled by worker slot, pid and generation (during a reload two processes may share a slot).

#include "worker/metrics.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace chatd {
namespace {

template <class T>
uint64_t load(const std::atomic<T>& a) {
  return static_cast<uint64_t>(a.load(std::memory_order_relaxed));
}

void head(std::string& out, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// ------------------------------------------------------------------ per-worker gauges

struct gauge {
  const char* name;
  const char* help;
  double (*read)(const worker_stats&);
};

const gauge k_gauges[] = {
    {"chatd_connections", "Open client connections.",
     [](const worker_stats& s) { return static_cast<double>(load(s.connections)); }},
    {"chatd_sessions", "Socket.IO sockets connected on namespace /.",
     [](const worker_stats& s) { return static_cast<double>(load(s.sessions)); }},
    {"chatd_output_queued_bytes",
     "Output queued to clients and not yet written (each reference to a shared frame counted).",
     [](const worker_stats& s) { return static_cast<double>(load(s.output_queued_bytes)); }},
    {"chatd_redis_up", "1 while the worker's Redis connections are ready.",
     [](const worker_stats& s) { return static_cast<double>(load(s.bus_up)); }},
    {"chatd_redis_last_rtt_seconds",
     "Round trip of the worker's last Redis liveness PING (0 before the first reply).",
     [](const worker_stats& s) { return static_cast<double>(load(s.redis_last_rtt_ns)) / 1e9; }},
    {"chatd_worker_start_time_seconds", "When the worker process started, in Unix time.",
     [](const worker_stats& s) { return static_cast<double>(load(s.started_unix_ms)) / 1e3; }},
};

// `name{worker="…",pid="…",generation="…"` (the labels every gauge has), left open for more.
void open_labels(std::string& out, const char* name, const worker_stats& w, int32_t pid) {
  fmt::format_to(std::back_inserter(out), "{}{{worker=\"{}\",pid=\"{}\",generation=\"{}\"", name,
                 load(w.slot), pid, load(w.generation));
}

void render_gauges(std::string& out, const stats_segment& segment) {
  for (const gauge& g : k_gauges) {
    head(out, g.name, "gauge", g.help);
    for (size_t i = 0; i < stats_segment::k_slots; ++i) {
      const worker_stats& w = segment.at(i);
      int32_t pid = w.pid.load(std::memory_order_relaxed);
      if (pid == 0) continue;
      open_labels(out, g.name, w, pid);
      fmt::format_to(std::back_inserter(out), "}} {}\n", g.read(w));
    }
  }
}

// ------------------------------------------------------------------ whole-daemon counters

void render_counters(std::string& out, const counters& total) {
#define CHATD_COUNTER_RENDER(field, help)                                               \
  head(out, "chatd_" #field, "counter", help);                                          \
  fmt::format_to(std::back_inserter(out), "chatd_" #field " {}\n", load(total.field));
  CHATD_COUNTERS(CHATD_COUNTER_RENDER)
#undef CHATD_COUNTER_RENDER
  // chatd_auth_refused_total{reason="expired"}: one series per refusal reason (jwt_refusal).
  const char* name = "chatd_auth_refused_total";
  head(out, name, "counter", "Socket.IO CONNECTs refused as unauthorized, by reason.");
  for (size_t r = 0; r < k_jwt_refusals; ++r) {
    fmt::format_to(std::back_inserter(out), "{}{{reason=\"{}\"}} {}\n", name,
                   jwt_refusal_label(static_cast<jwt_refusal>(r)), load(total.auth_refused_total[r]));
  }
}

void render_master(std::string& out, const master_counters& m) {
  head(out, "chatd_worker_respawns_total", "counter",
       "Workers the master started again after they exited unasked (crash, kill).");
  fmt::format_to(std::back_inserter(out), "chatd_worker_respawns_total {}\n",
                 load(m.respawns_total));
  head(out, "chatd_reloads_total", "counter",
       "Reloads (SIGHUP) by result: done (a new generation serves), refused (bad file or "
       "sockets: nothing changed), failed (the new generation did not start: the old one serves).");
  fmt::format_to(std::back_inserter(out),
                 "chatd_reloads_total{{result=\"done\"}} {}\n"
                 "chatd_reloads_total{{result=\"refused\"}} {}\n"
                 "chatd_reloads_total{{result=\"failed\"}} {}\n",
                 load(m.reloads_total), load(m.reloads_refused_total),
                 load(m.reloads_failed_total));
}

// A histogram in base units: bounds and sum divided by `scale` (1e9 for nanoseconds -> seconds).
template <size_t N>
void render_histogram(std::string& out, const char* name, const char* help,
                      const histogram<N>& h, const uint64_t (&bounds)[N], double scale) {
  head(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < N; ++i) {
    cumulative += load(h.buckets[i]);
    // Whole units as integers (le="1048576", not "1.048576e+06").
    if (scale == 1) {
      fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i],
                     cumulative);
    } else {
      fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                     static_cast<double>(bounds[i]) / scale, cumulative);
    }
  }
  cumulative += load(h.buckets[N]);
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n",
                 name, cumulative, name, static_cast<double>(load(h.sum)) / scale, name,
                 cumulative);
}

void render_histograms(std::string& out, const counters& total) {
  render_histogram(out, "chatd_delivery_latency_seconds",
                   "From a broadcast's arrival in a worker (a client's message or one from Redis) "
                   "to the end of the flush that wrote its frames to the local clients.",
                   total.delivery_latency_ns, k_latency_bounds_ns, 1e9);
  render_histogram(out, "chatd_message_size_bytes",
                   "Size of each message event's payload (JSON text plus binary attachments).",
                   total.message_size_bytes, k_size_bounds_bytes, 1);
  render_histogram(out, "chatd_redis_rtt_seconds",
                   "Round trip of the bus' Redis liveness PING (one a second per worker).",
                   total.redis_rtt_ns, k_latency_bounds_ns, 1e9);
}

}  // namespace

std::string render_metrics(stats_segment& segment) {
  std::string out;
  out.reserve(16384);
  render_gauges(out, segment);
  // About 1.5 KiB of atomics: on the heap, not on the loop's stack.
  auto total = std::make_unique<counters>();
  segment.daemon_totals(*total);
  render_counters(out, *total);
  render_histograms(out, *total);
  render_master(out, segment.master());
  return out;
}

std::string render_health(stats_segment* segment, const worker_stats& self, unsigned slot) {
  uint64_t connections = 0, sessions = 0, workers = 0;
  if (segment != nullptr) {
    for (size_t i = 0; i < stats_segment::k_slots; ++i) {
      const worker_stats& w = segment->at(i);
      if (w.pid.load(std::memory_order_relaxed) == 0) continue;
      ++workers;
      connections += load(w.connections);
      sessions += load(w.sessions);
    }
  } else {
    workers = 1;
    connections = load(self.connections);
    sessions = load(self.sessions);
  }
  bool redis_up = load(self.bus_up) != 0;
  return fmt::format(
      "{{\"status\":\"{}\",\"worker\":{},\"redis\":\"{}\",\"workers\":{},\"connections\":{},"
      "\"sessions\":{}}}",
      redis_up ? "ok" : "degraded", slot, redis_up ? "up" : "down", workers, connections,
      sessions);
}

}  // namespace chatd
