#pragma once
// What a chatd-bench run measured: the counters one generator process keeps, how the parent
// merges them from every process (and moves them over the pipe), and the summary it prints as
// text or JSON.

#include "bench/chatd_bench/histogram.h"
#include "bench/chatd_bench/options.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::bench {

struct run_result {
  uint64_t planned = 0;         // clients this result covers
  uint64_t connect_ok = 0;      // handshakes completed through 40{"sid"}
  uint64_t connect_failed = 0;  // handshakes that failed or timed out
  uint64_t dropped = 0;         // connected, then lost before the end of the run
  std::map<std::string, uint64_t> failures;  // reason -> clients (failed and dropped)

  uint64_t sent = 0;            // messages sent inside the counted window
  uint64_t sent_total = 0;      // every message sent, warmup included
  uint64_t received = 0;        // deliveries of counted messages before the drain ended
  uint64_t received_total = 0;  // every `chat` delivery seen
  uint64_t acks = 0;            // acknowledgements received (--rate 0)
  uint64_t send_backlog = 0;    // paced messages due but not sent when sending stopped

  uint64_t first_connect_us = 0;  // monotonic µs: first connect attempt started (0: none)
  uint64_t last_connect_us = 0;   // monotonic µs: last handshake completed (0: none)

  std::vector<uint64_t> room_members;  // members connected when sending started, per room
  std::vector<uint64_t> room_sent;     // counted messages sent, per room
  histogram latency;                   // µs, counted deliveries only

  void merge(const run_result& other);
  // Deliveries the counted messages should have made: each reaches every other member.
  uint64_t expected() const;
};

void serialize(const run_result& r, std::string& out);
// Reads a whole serialized result; nullopt when malformed or truncated.
std::optional<run_result> deserialize_result(std::string_view in);

// Figures only the parent knows.
struct run_extras {
  double elapsed_s = 0;          // wall time of the whole run
  double counted_s = 0;          // the counted window (fan-out) or the hold (idle)
  double cpu_user_s = 0;         // this program, generator processes included
  double cpu_sys_s = 0;
  bool deadline_hit = false;     // stopped by the hard deadline or a signal
  uint32_t procs_failed = 0;     // generator processes that died or sent nothing usable
  // --server-pids: RSS summed over the pids and their descendants, before connecting and at
  // the end (connections still open); CPU seconds they used during the run.
  bool have_server = false;
  uint64_t server_processes = 0;
  uint64_t server_rss_before_kib = 0;
  uint64_t server_rss_after_kib = 0;
  double server_cpu_s = 0;
};

std::string format_text(const options& o, const run_result& r, const run_extras& x);
std::string format_json(const options& o, const run_result& r, const run_extras& x);

// The one-second progress line.
std::string format_progress(double elapsed_s, std::string_view phase, const run_result& r,
                            double recv_rate);

}  // namespace chatd::bench
