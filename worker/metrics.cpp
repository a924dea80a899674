// /metrics and /healthz bodies. Every worker can answer for the whole daemon because the stats
// segment is shared; each series is labelled by worker slot and pid (during a reload two
// processes may share a slot).

#include "worker/metrics.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>

namespace chatd {
namespace {

struct series {
  const char* name;
  const char* type;
  const char* help;
  uint64_t (*read)(const worker_stats&);
};

template <class T>
uint64_t load(const std::atomic<T>& a) {
  return static_cast<uint64_t>(a.load(std::memory_order_relaxed));
}

const series k_series[] = {
    {"chatd_connections", "gauge", "Open client connections.",
     [](const worker_stats& s) { return load(s.connections); }},
    {"chatd_sessions", "gauge", "Socket.IO sockets connected on namespace /.",
     [](const worker_stats& s) { return load(s.sessions); }},
    {"chatd_accepted_total", "counter", "Client connections accepted.",
     [](const worker_stats& s) { return load(s.accepted_total); }},
    {"chatd_rejected_total", "counter", "Client connections refused over max_connections.",
     [](const worker_stats& s) { return load(s.rejected_total); }},
    {"chatd_messages_in_total", "counter", "Chat messages received from clients.",
     [](const worker_stats& s) { return load(s.messages_in_total); }},
    {"chatd_deliveries_total", "counter", "Packets queued to clients by broadcasts.",
     [](const worker_stats& s) { return load(s.deliveries_total); }},
    {"chatd_dropped_slow_total", "counter", "Clients dropped for exceeding max_backpressure.",
     [](const worker_stats& s) { return load(s.dropped_slow_total); }},
    {"chatd_output_budget_dropped_total", "counter",
     "Clients dropped because the worker's queued output exceeded limits.max_output_memory.",
     [](const worker_stats& s) { return load(s.output_budget_dropped_total); }},
    {"chatd_output_queued_bytes", "gauge",
     "Output queued to clients and not yet written (each reference to a shared frame counted).",
     [](const worker_stats& s) { return load(s.output_queued_bytes); }},
    {"chatd_bus_published_total", "counter", "Broadcasts published to Redis.",
     [](const worker_stats& s) { return load(s.bus_published_total); }},
    {"chatd_bus_received_total", "counter", "Broadcasts received from Redis.",
     [](const worker_stats& s) { return load(s.bus_received_total); }},
    {"chatd_adapter_requests_total", "counter",
     "Requests of other adapter nodes (fetchSockets, allRooms, socketsJoin, ...) handled.",
     [](const worker_stats& s) { return load(s.adapter_requests_total); }},
    {"chatd_adapter_bad_messages_total", "counter",
     "Undecodable messages on the adapter's request and response channels, dropped.",
     [](const worker_stats& s) { return load(s.adapter_bad_messages_total); }},
    {"chatd_adapter_server_side_emit_total", "counter", "serverSideEmit() events received.",
     [](const worker_stats& s) { return load(s.adapter_server_side_emit_total); }},
    {"chatd_adapter_requests_sent_total", "counter", "Requests chatd sent to the other nodes.",
     [](const worker_stats& s) { return load(s.adapter_requests_sent_total); }},
    {"chatd_adapter_request_timeouts_total", "counter",
     "chatd's requests that some node did not answer within adapter.requests_timeout.",
     [](const worker_stats& s) { return load(s.adapter_request_timeouts_total); }},
    {"chatd_bus_bad_messages_total", "counter",
     "Broadcasts from Redis that could not be decoded (malformed or hostile), dropped.",
     [](const worker_stats& s) { return load(s.bus_bad_messages_total); }},
    {"chatd_bus_publish_dropped_total", "counter", "Broadcasts not published: Redis unavailable.",
     [](const worker_stats& s) { return load(s.bus_publish_dropped_total); }},
    {"chatd_bus_reconnects_total", "counter", "Redis reconnect attempts.",
     [](const worker_stats& s) { return load(s.bus_reconnects_total); }},
    {"chatd_redis_up", "gauge", "1 while the worker's Redis connections are ready.",
     [](const worker_stats& s) { return load(s.bus_up); }},
    {"chatd_handovers_total", "counter", "Connections handed over to the owning worker.",
     [](const worker_stats& s) { return load(s.handovers_total); }},
    {"chatd_limit_rate_dropped_total", "counter",
     "Socket.IO events over limits.message_rate, dropped (or their sender disconnected).",
     [](const worker_stats& s) { return load(s.limit_rate_dropped_total); }},
    {"chatd_limit_rooms_refused_total", "counter",
     "CONNECTs refused: their address opened limits.rooms_per_ip(_per_minute) rooms already.",
     [](const worker_stats& s) { return load(s.limit_rooms_refused_total); }},
    {"chatd_limit_bad_names_total", "counter",
     "CONNECTs refused for their channel or userId (length, control characters, UTF-8).",
     [](const worker_stats& s) { return load(s.limit_bad_names_total); }},
    {"chatd_limit_handshake_timeouts_total", "counter",
     "Connections closed without a complete HTTP request head within limits.handshake_timeout.",
     [](const worker_stats& s) { return load(s.limit_handshake_timeouts_total); }},
    {"chatd_limit_ip_connections_refused_total", "counter",
     "Connections refused over limits.max_connections_per_ip.",
     [](const worker_stats& s) { return load(s.limit_ip_connections_refused_total); }},
    {"chatd_origin_refused_total", "counter",
     "WebSocket handshakes refused: their Origin is not in engineio.allowed_origins.",
     [](const worker_stats& s) { return load(s.origin_refused_total); }},
    {"chatd_auth_accepted_total", "counter", "Socket.IO CONNECTs whose token verified (auth: on).",
     [](const worker_stats& s) { return load(s.auth_accepted_total); }},
    {"chatd_auth_user_id_mismatch_total", "counter",
     "Messages whose userId was not the token's user, refused or rewritten (auth.mismatched_user_id).",
     [](const worker_stats& s) { return load(s.auth_user_id_mismatch_total); }},
};

// `name{worker="…",pid="…",generation="…"` (the labels every series has), left open for more.
void open_labels(std::string& out, const char* name, const worker_stats& w, int32_t pid) {
  fmt::format_to(std::back_inserter(out), "{}{{worker=\"{}\",pid=\"{}\",generation=\"{}\"", name,
                 load(w.slot), pid, load(w.generation));
}

// chatd_auth_refused_total{…,reason="expired"}: one series per refusal reason (jwt_refusal).
void render_auth_refusals(std::string& out, stats_segment& segment) {
  const char* name = "chatd_auth_refused_total";
  fmt::format_to(std::back_inserter(out),
                 "# HELP {} Socket.IO CONNECTs refused as unauthorized, by reason.\n"
                 "# TYPE {} counter\n",
                 name, name);
  for (size_t i = 0; i < stats_segment::k_slots; ++i) {
    const worker_stats& w = segment.at(i);
    int32_t pid = w.pid.load(std::memory_order_relaxed);
    if (pid == 0) continue;
    for (size_t r = 0; r < k_jwt_refusals; ++r) {
      open_labels(out, name, w, pid);
      fmt::format_to(std::back_inserter(out), ",reason=\"{}\"}} {}\n",
                     jwt_refusal_label(static_cast<jwt_refusal>(r)), load(w.auth_refused_total[r]));
    }
  }
}

}  // namespace

std::string render_metrics(stats_segment& segment) {
  std::string out;
  out.reserve(4096);
  for (const series& s : k_series) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", s.name, s.help,
                   s.name, s.type);
    for (size_t i = 0; i < stats_segment::k_slots; ++i) {
      const worker_stats& w = segment.at(i);
      int32_t pid = w.pid.load(std::memory_order_relaxed);
      if (pid == 0) continue;
      open_labels(out, s.name, w, pid);
      fmt::format_to(std::back_inserter(out), "}} {}\n", s.read(w));
    }
  }
  render_auth_refusals(out, segment);
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
