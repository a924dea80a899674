#pragma once
// Redis Cluster's addressing, sans-IO: which of the 16384 hash slots a key (or a shard channel)
// lives in, what a MOVED/ASK redirection says, and the cluster's layout as CLUSTER SLOTS reports
// it (shards: a master, its replicas, the slot ranges it serves; plus a slot -> shard index).
// Pure: no socket, no loop. The CLUSTER SLOTS parser reads a hiredis reply tree (only the struct:
// nothing of hiredis is called), or the small intermediate it builds, so tests construct either.

#include "common/expected.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace chatd {

inline constexpr uint16_t k_cluster_slots = 16384;

// CRC16/XMODEM (poly 0x1021, init 0, no reflection), Redis Cluster's key hash.
uint16_t crc16_xmodem(std::string_view data);
// The key's hash slot: CRC16 of the key mod 16384, or of its hash tag: the bytes between the
// first '{' and the first '}' after it, when there is at least one byte between them.
uint16_t key_slot(std::string_view key);

// A node's address as the cluster announces it.
struct cluster_node {
  std::string host;
  uint16_t port = 0;
  std::string id;  // the node id (40 hex characters), when the reply carries it

  bool same_address(const cluster_node& o) const { return host == o.host && port == o.port; }
  // "host:port" ("[v6]:port"); the key shards are known by, and the log form.
  std::string address() const;
};

// -MOVED / -ASK: where a slot is (moved) or where to ask once (ask, during a migration).
enum class redirect_kind : uint8_t { moved, ask };
struct redirect {
  redirect_kind kind = redirect_kind::moved;
  uint16_t slot = 0;
  std::string host;  // empty: the host of the link the error came on (Redis' unknown endpoint)
  uint16_t port = 0;
};
// Reads "MOVED 3999 127.0.0.1:6381" / "ASK 3999 ::1:6381" / "MOVED 3999 [::1]:6381" /
// "MOVED 3999 :6381" (a leading '-' is allowed); nullopt for any other error text.
std::optional<redirect> parse_redirect(std::string_view error_text);

struct slot_range {
  uint16_t first = 0;
  uint16_t last = 0;  // inclusive
  bool operator==(const slot_range&) const = default;
};

// One shard: the master serving some slot ranges and its replicas.
struct cluster_shard {
  cluster_node master;
  std::vector<cluster_node> replicas;
  std::vector<slot_range> ranges;
};

// One entry of CLUSTER SLOTS: a range and its nodes, the master first.
struct slots_entry {
  slot_range range;
  std::vector<cluster_node> nodes;
};

// The cluster's layout. shard_of[slot] is an index into shards, or -1 for an unserved slot.
struct cluster_map {
  std::vector<cluster_shard> shards;
  std::vector<int16_t> shard_of = std::vector<int16_t>(k_cluster_slots, -1);

  // The shard serving `slot`, or nullptr.
  const cluster_shard* shard_for_slot(uint16_t slot) const {
    const int16_t i = shard_of[slot];
    return i < 0 ? nullptr : &shards[static_cast<size_t>(i)];
  }
  const cluster_shard* shard_for_key(std::string_view key) const {
    return shard_for_slot(key_slot(key));
  }
  // Every slot has a shard.
  bool complete() const;
  // Same masters serving the same slots (replicas and ids aside).
  bool same_routing(const cluster_map& o) const;
};

// Builds the map from CLUSTER SLOTS entries: ranges of one master (same address) make one shard,
// in the order masters first appear. Errors: an entry without nodes, a bad range, a slot claimed
// twice.
expected<cluster_map> build_cluster_map(const std::vector<slots_entry>& entries);
// Reads a CLUSTER SLOTS reply into entries. A node whose host is empty, nil or "?" (Redis'
// unknown endpoint) gets `link_host`, the host the command was sent to, as the Redis docs say.
expected<std::vector<slots_entry>> read_cluster_slots(const redisReply* reply,
                                                      std::string_view link_host);
// Both at once.
expected<cluster_map> parse_cluster_slots(const redisReply* reply, std::string_view link_host);

}  // namespace chatd
