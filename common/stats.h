#pragma once
// Whole-daemon figures: a shared anonymous mapping made by the master before it forks, one slot
// per worker process. A worker writes only its own slot (relaxed atomics); /metrics, /healthz and
// the master's STATUS= line read them all.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "common/jwt_verify.h"
#include "common/limits.h"

namespace chatd {

struct worker_stats {
  std::atomic<int32_t> pid{0};            // 0: slot free
  std::atomic<uint32_t> slot{0};          // worker slot (listening socket index)
  std::atomic<uint32_t> generation{0};
  std::atomic<uint32_t> state{0};         // 0 starting, 1 accepting, 2 draining, 3 stopping
  std::atomic<uint64_t> connections{0};   // open client connections now
  std::atomic<uint64_t> sessions{0};      // Socket.IO sockets connected now
  std::atomic<uint64_t> accepted_total{0};
  std::atomic<uint64_t> rejected_total{0};  // over max_connections or fd limit
  std::atomic<uint64_t> messages_in_total{0};   // chat messages received from clients
  std::atomic<uint64_t> deliveries_total{0};    // packets queued to clients by broadcasts
  std::atomic<uint64_t> dropped_slow_total{0};  // clients dropped over max_backpressure
  std::atomic<uint64_t> output_budget_dropped_total{0};  // clients dropped over max_output_memory
  std::atomic<uint64_t> output_queued_bytes{0};  // output queued now, as max_output_memory counts it
  std::atomic<uint64_t> bus_published_total{0};
  std::atomic<uint64_t> bus_received_total{0};
  std::atomic<uint64_t> bus_publish_dropped_total{0};  // not published: Redis was down
  std::atomic<uint64_t> bus_bad_messages_total{0};     // undecodable broadcasts dropped
  std::atomic<uint64_t> bus_reconnects_total{0};
  std::atomic<uint32_t> bus_up{0};        // 1 while both Redis connections are ready
  std::atomic<uint64_t> handovers_total{0};
  // The adapter's request channel (worker/adapter_node).
  std::atomic<uint64_t> adapter_requests_total{0};       // other nodes' requests handled
  std::atomic<uint64_t> adapter_bad_messages_total{0};   // undecodable requests/responses dropped
  std::atomic<uint64_t> adapter_server_side_emit_total{0};  // serverSideEmit() events received
  std::atomic<uint64_t> adapter_requests_sent_total{0};     // chatd's own requests
  std::atomic<uint64_t> adapter_request_timeouts_total{0};  // ... that some node left unanswered
  // Abuse limits (limits: in the config; engineio.allowed_origins for WebSockets).
  std::atomic<uint64_t> limit_rate_dropped_total{0};           // events over message_rate
  std::atomic<uint64_t> limit_rooms_refused_total{0};          // CONNECTs over rooms_per_ip*
  std::atomic<uint64_t> limit_bad_names_total{0};              // CONNECTs with a bad channel/userId
  std::atomic<uint64_t> limit_handshake_timeouts_total{0};     // no request head in time
  std::atomic<uint64_t> limit_ip_connections_refused_total{0}; // over max_connections_per_ip
  std::atomic<uint64_t> origin_refused_total{0};               // WebSockets from another origin
  // auth: (worker/connect_auth): CONNECTs whose token verified, refused ones by reason, and
  // `message`s whose userId was not the token's user (refused or rewritten).
  std::atomic<uint64_t> auth_accepted_total{0};
  std::atomic<uint64_t> auth_refused_total[k_jwt_refusals] = {};
  std::atomic<uint64_t> auth_user_id_mismatch_total{0};
};

class stats_segment {
 public:
  // Old and new generation side by side during a reload, each at most k_max_workers.
  static constexpr size_t k_slots = 2 * static_cast<size_t>(k_max_workers);
  // Maps the shared segment; returns nullptr (and logs) on failure.
  static stats_segment* create();
  worker_stats& at(size_t i) { return slots_[i]; }
  // A free slot for a new worker process (pid 0), claimed with `pid`; -1 if none.
  int claim(pid_t pid);
  void release(pid_t pid);

 private:
  worker_stats slots_[k_slots];
};

}  // namespace chatd
