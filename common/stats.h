#pragma once
// Whole-daemon figures: a shared anonymous mapping made by the master before it forks, one slot
// per worker process plus the counts of the workers that are gone. A worker writes only its own
// slot (relaxed atomics, no locks); /metrics, /healthz and the master's STATUS= line read them
// all.
//
// Counters and histograms are whole-daemon: when a worker has exited (crashed, killed, retired by
// a reload) the master, once waitpid() has said so, folds its slot's counts into `retired` and
// zeroes the slot before freeing it, so a counter never goes down while the master lives. A dead
// process writes nothing more, so the fold races no writer; a SIGKILL lands between two
// instructions, and each count is one atomic add, so no count is torn (a histogram observation is
// two adds, bucket then sum: its sum may miss one value, its count cannot). Readers take
// `retired` plus the live slots under a sequence count the master bumps around each fold
// (daemon_totals): a fold seen half-done is read again, never counted twice or not at all.
// Gauges (connections, redis up, ...) stay per worker.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "common/jwt_verify.h"
#include "common/limits.h"

namespace chatd {

// Every counter of a worker, as X(field, help); the metric is chatd_<field>. One list, so that
// the fold, the reset and /metrics cannot miss one.
#define CHATD_COUNTERS(X)                                                                          \
  X(accepted_total, "Client connections accepted.")                                                \
  X(rejected_total, "Client connections refused over max_connections.")                           \
  X(messages_in_total, "Chat messages received from clients.")                                     \
  X(deliveries_total, "Packets queued to clients by broadcasts.")                                  \
  X(dropped_slow_total, "Clients dropped for exceeding max_backpressure.")                         \
  X(output_budget_dropped_total,                                                                   \
    "Clients dropped because the worker's queued output exceeded limits.max_output_memory.")      \
  X(bus_published_total, "Broadcasts published to Redis.")                                         \
  X(bus_received_total, "Broadcasts received from Redis.")                                         \
  X(bus_publish_dropped_total, "Broadcasts not published: Redis unavailable.")                     \
  X(bus_bad_messages_total,                                                                        \
    "Broadcasts from Redis that could not be decoded (malformed or hostile), dropped.")           \
  X(bus_reconnects_total, "Redis reconnect attempts.")                                             \
  X(handovers_total, "Connections handed over to the owning worker.")                              \
  X(adapter_requests_total,                                                                        \
    "Requests of other adapter nodes (fetchSockets, allRooms, socketsJoin, ...) handled.")         \
  X(adapter_bad_messages_total,                                                                    \
    "Undecodable messages on the adapter's request and response channels, dropped.")              \
  X(adapter_server_side_emit_total, "serverSideEmit() events received.")                           \
  X(adapter_requests_sent_total, "Requests chatd sent to the other nodes.")                        \
  X(adapter_request_timeouts_total,                                                                \
    "chatd's requests that some node did not answer within adapter.requests_timeout.")            \
  X(limit_rate_dropped_total,                                                                      \
    "Socket.IO events over limits.message_rate, dropped (or their sender disconnected).")         \
  X(limit_rooms_refused_total,                                                                     \
    "CONNECTs refused: their address opened limits.rooms_per_ip(_per_minute) rooms already.")     \
  X(limit_bad_names_total,                                                                         \
    "CONNECTs refused for their channel or userId (length, control characters, UTF-8).")          \
  X(limit_handshake_timeouts_total,                                                                \
    "Connections closed without a complete HTTP request head within limits.handshake_timeout.")   \
  X(limit_ip_connections_refused_total, "Connections refused over limits.max_connections_per_ip.") \
  X(origin_refused_total,                                                                          \
    "WebSocket handshakes refused: their Origin is not in engineio.allowed_origins.")              \
  X(auth_accepted_total, "Socket.IO CONNECTs whose token verified (auth: on).")                   \
  X(auth_user_id_mismatch_total,                                                                   \
    "Messages whose userId was not the token's user, refused or rewritten "                       \
    "(auth.mismatched_user_id).")

// Upper bounds (inclusive, in the histogram's integer unit) of a histogram's finite buckets.
// Delivery latency and Redis round trips in nanoseconds, message sizes in bytes.
inline constexpr uint64_t k_latency_bounds_ns[] = {
    50'000,     100'000,    250'000,     500'000,     1'000'000,   2'500'000,    5'000'000,
    10'000'000, 25'000'000, 50'000'000,  100'000'000, 250'000'000, 1'000'000'000};
inline constexpr uint64_t k_size_bounds_bytes[] = {16,     64,      256,     1024,     4096,
                                                   16384,  65536,   262144,  1048576};
inline constexpr size_t k_latency_buckets = std::size(k_latency_bounds_ns);
inline constexpr size_t k_size_buckets = std::size(k_size_bounds_bytes);

// A Prometheus histogram kept as per-bucket (not cumulative) counts plus one past the last bound
// (+Inf), and the sum of the values. Rendered cumulative; its _count is the sum of the buckets,
// so it always equals the +Inf bucket.
template <size_t N>
struct histogram {
  std::atomic<uint64_t> buckets[N + 1] = {};
  std::atomic<uint64_t> sum{0};

  // Counts `n` observations of `value` (n of them at once: a batch that shares one value).
  // Relaxed adds only: the hot path.
  void observe(const uint64_t (&bounds)[N], uint64_t value, uint64_t n = 1) {
    size_t i = 0;
    while (i < N && value > bounds[i]) ++i;
    buckets[i].fetch_add(n, std::memory_order_relaxed);
    sum.fetch_add(value * n, std::memory_order_relaxed);
  }
};

// What a worker counts; what the daemon keeps of the workers that are gone.
struct counters {
#define CHATD_COUNTER_FIELD(field, help) std::atomic<uint64_t> field{0};
  CHATD_COUNTERS(CHATD_COUNTER_FIELD)
#undef CHATD_COUNTER_FIELD
  // auth: (worker/connect_auth): CONNECTs refused, by reason.
  std::atomic<uint64_t> auth_refused_total[k_jwt_refusals] = {};
  // From a broadcast's arrival in the worker (a client's message, or one from Redis) to the end
  // of the loop iteration's flush that wrote its frames; one observation per broadcast that
  // reached a local client (worker/delivery_timer.h).
  histogram<k_latency_buckets> delivery_latency_ns;
  // Bytes of each `message` event's payload (its JSON text, plus its binary attachments).
  histogram<k_size_buckets> message_size_bytes;
  // The bus' liveness PING: from sending it to its reply.
  histogram<k_latency_buckets> redis_rtt_ns;

  // Adds every count of this one into `into` (relaxed).
  void add_to(counters& into) const;
  // Every count back to 0.
  void zero();
};

struct worker_stats : counters {
  std::atomic<int32_t> pid{0};            // 0: slot free
  std::atomic<uint32_t> slot{0};          // worker slot (listening socket index)
  std::atomic<uint32_t> generation{0};
  std::atomic<uint32_t> state{0};         // 0 starting, 1 accepting, 2 draining, 3 stopping
  // Gauges: what the worker holds now.
  std::atomic<uint64_t> connections{0};   // open client connections now
  std::atomic<uint64_t> sessions{0};      // Socket.IO sockets connected now
  std::atomic<uint64_t> output_queued_bytes{0};  // output queued now, as max_output_memory counts it
  std::atomic<uint32_t> bus_up{0};        // 1 while both Redis connections are ready
  std::atomic<uint64_t> redis_last_rtt_ns{0};  // the last liveness PING's round trip; 0: none yet
  std::atomic<uint64_t> started_unix_ms{0};    // when the worker claimed the slot (wall clock)
};

// The master's own counts (only the master writes them).
struct master_counters {
  std::atomic<uint64_t> respawns_total{0};        // workers started again after an unasked exit
  std::atomic<uint64_t> reloads_total{0};         // reloads done: a new generation serving
  std::atomic<uint64_t> reloads_refused_total{0}; // bad file or sockets: nothing changed
  std::atomic<uint64_t> reloads_failed_total{0};  // the new generation failed: the old one serves
};

class stats_segment {
 public:
  // Old and new generation side by side during a reload, each at most k_max_workers.
  static constexpr size_t k_slots = 2 * static_cast<size_t>(k_max_workers);
  // Maps the shared segment; returns nullptr (and logs) on failure.
  static stats_segment* create();
  worker_stats& at(size_t i) { return slots_[i]; }
  const worker_stats& at(size_t i) const { return slots_[i]; }
  master_counters& master() { return master_; }
  const master_counters& master() const { return master_; }
  // A free slot for a new worker process (pid 0), claimed with `pid`; -1 if none. Its counters
  // are 0 already (retire() left them so); its gauges start again.
  int claim(pid_t pid);
  // The master, once `pid` has exited (reaped): folds its slot's counts into the retired totals,
  // zeroes the slot and frees it. A pid holding no slot is ignored.
  void retire(pid_t pid);
  // Whole-daemon counts: the retired totals plus every live slot's, consistent with the folds
  // (read again while one is under way). `out` should start at 0.
  void daemon_totals(counters& out) const;

 private:
  std::atomic<uint64_t> fold_seq_{0};  // odd while the master folds a slot
  counters retired_;
  master_counters master_;
  worker_stats slots_[k_slots];
};

}  // namespace chatd
