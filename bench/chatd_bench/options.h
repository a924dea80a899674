#pragma once
// chatd-bench's command line: what to run (fan-out, idle hold or connect storm), against which
// servers, with how many clients in which rooms, from which source addresses, in how many
// processes. Parsing is pure (argv in, options or an error message out) so it is unit-tested.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace chatd::bench {

enum class run_mode { fanout, idle, storm };

// One server address clients connect to; `host_header` is what the HTTP Host header says.
struct target {
  sockaddr_storage addr{};
  std::string host_header;
};

struct options {
  std::vector<target> targets;          // --url; default 127.0.0.1:8000
  std::string path = "/socket.io/";     // --path
  std::vector<sockaddr_storage> sources;  // --source-addrs; empty: let the kernel choose
  uint32_t rooms = 20;                  // --rooms
  uint32_t members = 50;                // --members (per room)
  uint32_t senders = 1;                 // --senders (per room, among the members)
  std::string room_prefix = "bench";    // --room-prefix: rooms are <prefix>-<n>
  double rate = 1000;                   // --rate: messages/s over all senders; 0: as fast as acks allow
  uint32_t inflight = 16;               // --inflight: unacknowledged messages per sender at --rate 0
  uint32_t payload = 128;               // --payload: bytes of the message packet (padded body)
  double duration_s = 10;               // --duration
  double warmup_s = 2;                  // --warmup
  uint32_t drain_ms = 2000;             // --drain
  uint32_t connect_concurrency = 500;   // --connect-concurrency
  uint32_t connect_timeout_ms = 10000;  // --connect-timeout
  double max_connect_s = 60;            // --max-connect-time: bound of the whole connect phase
  uint32_t procs = 1;                   // --procs
  run_mode mode = run_mode::fanout;     // --idle / --storm
  std::vector<int> server_pids;         // --server-pids
  bool json = false;                    // --json
  bool quiet = false;                   // --quiet: no progress lines

  uint64_t clients() const { return uint64_t{rooms} * members; }
};

// Parses argv[1..]. Returns the options, or the text to print: an error message (`is_error`) or
// the help text.
struct parse_failure {
  std::string text;
  bool is_error = true;
};
std::variant<options, parse_failure> parse_options(int argc, const char* const* argv);

std::string usage();

// Pieces of the parser, public for the tests.
// "host:port", "ws://host:port", "http://host:port"; host an IPv4 address, "localhost" or
// "[IPv6]".
std::optional<target> parse_target(std::string_view text);
// Comma list of IPv4 addresses and ranges "a.b.c.d-a.b.c.e" (last octet or whole address).
std::optional<std::vector<sockaddr_storage>> parse_sources(std::string_view text);

}  // namespace chatd::bench
