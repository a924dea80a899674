#pragma once
// Per-source-address limits of one worker: how many connections an address holds, and how many
// rooms new to this worker it opens (each one costs Redis work: a subscription, its
// confirmation, the fleet's traffic for it), per minute and at once. Pure: addresses are text
// keys, the caller passes the time, so the tables are unit-tested without sockets.
//
// An address's entry lives while it holds a connection or a room, or its per-minute bucket is
// still refilling; entries with nothing to remember are swept as the table grows.

#include "common/string_hash.h"
#include "common/token_bucket.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatd {

struct ip_limit_settings {
  uint32_t max_connections_per_ip = 0;   // 0: no limit
  uint32_t rooms_per_ip_per_minute = 0;  // 0: no limit
  uint32_t rooms_per_ip = 0;             // 0: no limit
};

class ip_limits {
 public:
  explicit ip_limits(ip_limit_settings s) : settings_(s) {}

  // A connection from `ip` opens. False (and not counted) when `ip` holds its limit already,
  // unless `enforce` is false (a handed-over connection: its session lives here).
  bool connection_opened(std::string_view ip, bool enforce = true);
  void connection_closed(std::string_view ip);

  // `ip` opens `room`, new to this worker, at `now_ms`: nullopt-like empty string when allowed
  // (the room is then charged to `ip` until room_closed), else why not.
  std::string open_room(std::string_view ip, std::string_view room, uint64_t now_ms);
  // The room lost its last local member; a room no address opened is ignored.
  void room_closed(std::string_view room, uint64_t now_ms);

  size_t addresses() const { return by_ip_.size(); }
  uint32_t connections_of(std::string_view ip) const;
  uint32_t rooms_of(std::string_view ip) const;

 private:
  struct entry {
    uint32_t connections = 0;
    uint32_t rooms = 0;
    token_bucket room_rate;
  };
  using table = std::unordered_map<std::string, entry, string_hash, std::equal_to<>>;
  double room_rate() const { return settings_.rooms_per_ip_per_minute / 60.0; }
  double room_burst() const { return settings_.rooms_per_ip_per_minute; }
  entry& at(std::string_view ip);
  // Drops `it` when it holds nothing and its bucket is full again.
  void forget_if_idle(table::iterator it, uint64_t now_ms);
  void sweep(uint64_t now_ms);

  ip_limit_settings settings_;
  table by_ip_;
  // Which address opened each room it is charged for.
  std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> opener_;
  size_t sweep_at_ = 1024;  // table size that triggers the next sweep
  uint64_t last_now_ms_ = 0;
};

}  // namespace chatd
