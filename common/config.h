#pragma once
// chatd configuration: a plain struct whose every field has its default here, loaded from YAML
// (etc/chatd.yaml documents each key) and validated in one place. The command line overrides the
// file. A bad file is refused with its path, line and the reason.

#include "common/expected.h"
#include "common/jwt_verify.h"
#include "common/log.h"
#include "common/redis_url.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatd {

// auth: JWT verification of each Socket.IO CONNECT (README "Authentication").
struct auth_config {
  bool enabled = false;             // off: every CONNECT is accepted, as the seed does
  jwt_policy policy{{signing_alg::hs256}, "", "", 30000, "sub", ""};  // algorithms [HS256], leeway 30s
  std::string secret_file;          // HS*: the shared secret
  std::string public_key_file;      // RS*/ES*: one PEM public key ...
  std::string jwks_file;            // ... or a JWKS, keys picked by kid
  bool rewrite_user_id = false;     // mismatched_user_id: refuse (false) or rewrite
  jwt_keyset keys;                  // read from the files above whenever the config is loaded
};

// namespaces: which application serves each Socket.IO namespace (README "Namespaces"). Unset
// options take the global value (auth.enabled, limits.message_rate...) when the config is
// validated, so after validate_config() every one is set.
enum class app_kind : uint8_t { chat, echo };
struct namespace_config {
  std::string name;                           // "/" or "/<name>"
  app_kind app = app_kind::chat;
  std::optional<bool> auth;                   // verify the CONNECT's token (auth.enabled)
  std::optional<uint32_t> message_rate;       // limits.message_rate
  std::optional<uint32_t> message_burst;      // limits.message_burst
  std::optional<bool> message_rate_disconnect;  // limits.message_rate_action
  int line = 0;                               // where the file declared it (for errors)
};

struct config {
  // listen:
  std::string listen_address = "0.0.0.0";  // IPv4 or IPv6 literal
  uint16_t listen_port = 8000;
  int listen_backlog = 4096;
  // workers: 0 means one per CPU.
  int workers = 0;
  // redis:
  std::string redis_url = "redis://127.0.0.1:6379";
  redis_endpoint redis;                        // parsed from redis_url
  std::string redis_key = "socket.io";         // channel prefix, as the adapter's `key` option
  uint32_t redis_connect_timeout_ms = 2000;
  uint32_t redis_reconnect_max_ms = 5000;      // backoff ceiling between reconnect attempts
  // redis.mode: standalone (one Redis, classic adapter format, the default) or cluster (Redis
  // Cluster, sharded pub/sub: SSUBSCRIBE/SPUBLISH in @socket.io/redis-adapter's sharded format).
  bool redis_cluster = false;
  // redis.nodes: the cluster's seed nodes as redis:// URLs (cluster mode only); empty means
  // redis.url alone. Parsed into redis_seeds.
  std::vector<std::string> redis_nodes;
  std::vector<redis_endpoint> redis_seeds;     // cluster mode: never empty after validation
  // engineio:
  uint32_t ping_interval_ms = 25000;
  uint32_t ping_timeout_ms = 20000;
  uint32_t max_payload = 1000000;              // bytes; maxHttpBufferSize
  uint32_t connect_timeout_ms = 45000;         // Socket.IO CONNECT must arrive within this
  uint32_t upgrade_timeout_ms = 10000;
  std::vector<std::string> allowed_origins;    // CORS; empty: no CORS headers
  std::string echo_path;                       // raw Engine.IO echo endpoint; empty: off
  // limits:
  uint32_t max_connections = 100000;           // whole daemon, split evenly over the workers
  uint32_t max_backpressure = 1048576;         // bytes queued to one client before it is dropped
  uint64_t max_output_memory = 268435456;      // bytes queued over all of a worker's clients; 0: none
  uint32_t max_header_size = 8192;             // HTTP request head
  uint32_t handshake_timeout_ms = 5000;        // for each HTTP request head (slowloris)
  uint32_t max_connections_per_ip = 1000;      // per worker; 0: no limit
  uint32_t message_rate = 100;                 // events per second per socket; 0: no limit
  uint32_t message_burst = 300;                // events at once above the rate
  bool message_rate_disconnect = false;        // message_rate_action: drop (false) or disconnect
  uint32_t rooms_per_ip_per_minute = 600;      // rooms new to the worker; 0: no limit
  uint32_t rooms_per_ip = 1000;                // open at once, per worker; 0: no limit
  uint32_t max_channel_length = 128;           // characters
  uint32_t max_user_id_length = 128;           // characters
  // adapter: chatd as a node of @socket.io/redis-adapter's request channel.
  bool adapter_serve_requests = true;          // answer fetchSockets(), allRooms(), socketsJoin()...
  bool adapter_socket_rooms = true;
  bool adapter_pattern_subscription = true;    // PSUBSCRIBE "<key>#/#*" (else SUBSCRIBE per room)            // SUBSCRIBE each socket's own room (io.to(socket.id))
  bool adapter_specific_response_channel = false;  // as publishOnSpecificResponseChannel
  uint32_t adapter_requests_timeout_ms = 5000; // chatd's own requests (presence), as requestsTimeout
  // history: each room's recent `chat` messages in a Redis stream (README "History and
  // connection state recovery"); a member asks for them with a `history` event.
  bool history_enabled = true;                 // the `history` event and the rooms' streams
  uint32_t history_max_messages = 100;         // kept per room (approximately: MAXLEN ~); 0: off
  uint32_t history_max_age_ms = 3600000;       // older ones are not served, and an idle room's
                                               // stream expires after this
  // recovery: Socket.IO connection state recovery on the chat namespace.
  bool recovery_enabled = false;               // pid in the CONNECT reply, offsets on broadcasts
  uint32_t recovery_max_disconnection_ms = 120000;  // as maxDisconnectionDuration
  uint32_t recovery_max_entries = 100000;      // the namespace stream's MAXLEN ~: size it to
                                               // broadcasts per second x max_disconnection
  // shutdown_timeout: how long a retiring or stopping worker waits for clients to finish.
  uint32_t shutdown_timeout_ms = 10000;
  // auth:
  auth_config auth;
  // namespaces: empty in a file that has none; validate_config() then serves "/" with chat.
  std::vector<namespace_config> namespaces;
  // log:
  log::level log_level = log::level::info;
  log::format log_format = log::format::text;  // json: one object per line

  // Effective worker count: `workers`, or the number of CPUs when it is 0.
  int worker_count() const;
};

struct config_error {
  std::string file;  // path as given, or "<command line>" / "<defaults>"
  int line = 0;      // 1-based; 0 when not tied to a line
  std::string reason;

  // "file:line: reason" (or "file: reason" without a line).
  std::string message() const;
};

// Loads and validates a YAML file. Unknown keys, wrong types and out-of-range values are errors.
expected<config, config_error> load_config_file(const std::string& path);
// Same, from text; `name` stands for the file in error messages.
expected<config, config_error> load_config_string(const std::string& text, const std::string& name);
// Checks cross-field rules (after command-line overrides too) and parses redis_url into `redis`.
// `source` names where the values came from, for the error.
expected<config, config_error> validate_config(config c, const std::string& source);

// The file read when --config is not given: the installed one if present, else none (defaults).
#ifdef CHATD_DEFAULT_CONFIG
inline constexpr const char* k_default_config_path = CHATD_DEFAULT_CONFIG;
#else
inline constexpr const char* k_default_config_path = "/etc/chatd/chatd.yaml";
#endif

}  // namespace chatd
