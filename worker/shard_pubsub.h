#pragma once
// Sharded pub/sub and key-routed commands on a Redis Cluster, for one worker: the transport the
// cluster-mode bus stands on. The cluster map comes from cluster_topology; each shard (master)
// this worker needs gets two resp_links, created when a channel, a publish or a command first
// needs the shard: a subscribing one (SSUBSCRIBE/SUNSUBSCRIBE, smessage pushes) and a publishing
// one (SPUBLISH pipelined, commands, the stall PING).
//
// Channels are reference-counted and belong to the shard owning their slot; they are subscribed
// again after every reconnect, failover (the replica promoted: the old master's links fail, the
// map is refreshed, the channels move to the new master) and slot move (Redis' own sunsubscribe,
// or a MOVED answer to SSUBSCRIBE: the channel follows to the node named), and on_subscribed
// tells each confirmation. A shard that is down degrades only its own channels (channel_up()).
//
// Redirections: a MOVED or ASK answer to a publish or command is followed at once to the node it
// names (ASK with ASKING first), at most k_max_redirects times, and a MOVED asks for a fresh map.
// Before a shard's publishing link is first ready, publishes and commands for it wait (at most
// k_max_parked per shard) and go out when it is; after it has been up, a shard that is down drops
// them (publish() false, command done(nullptr)).
//
// Links reconnect with capped, jittered backoff (cfg.redis_reconnect_max_ms); a PING on each
// publishing link every k_health_interval_ms that goes unanswered for max(5 s, connect timeout)
// drops both of the shard's links. A shard's outage is one warning and one recovery line.
// Stats: bus_reconnects_total per reconnect attempt. Published/received/dropped counters and
// bus_up are the owner's: it knows which payloads are broadcasts.
//
// Re-entrancy: every callback may call any member, stop() and destruction included (destruction
// from inside a callback is not allowed: stop() there, destroy later). Nothing is delivered after
// stop(); command handlers still pending then get nullptr, from inside stop().

#include "common/cluster_slot.h"
#include "common/config.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "common/string_hash.h"
#include "worker/cluster_topology.h"
#include "worker/owned_timer.h"
#include "worker/resp_link.h"

#include <hiredis/hiredis.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

class shard_pubsub {
 public:
  struct callbacks {
    // A message on a subscribed channel (smessage): views valid during the call only.
    std::function<void(std::string_view channel, std::string_view payload)> on_message;
    // Redis confirmed the SSUBSCRIBE of `channel` (again after every resubscription, e.g. after a
    // failover or slot move).
    std::function<void(std::string_view channel)> on_subscribed;
    // up() changed.
    std::function<void(bool up)> on_state;
    // A shard's links came up or went down, or the map moved channels: channel_up() and
    // confirmed() may have changed for some channels (after on_state, when that changed too).
    std::function<void()> on_shards_changed;
  };

  static constexpr int k_max_redirects = 2;         // MOVED then ASK, say; more is a loop
  static constexpr size_t k_max_parked = 4096;      // per shard, waiting for its first connect
  static constexpr uint64_t k_health_interval_ms = 1000;

  shard_pubsub(uv_loop_t* loop, const config& cfg, std::string name, worker_stats* stats,
               callbacks cb);
  ~shard_pubsub();  // safe from any state; no callback after stop()/destruction
  shard_pubsub(const shard_pubsub&) = delete;
  shard_pubsub& operator=(const shard_pubsub&) = delete;

  // Discovers the map from cfg.redis_seeds and connects what is needed; once only.
  void start();
  // Drops every link; nothing delivered afterwards; safe from inside a callback.
  void stop();
  // The map is known and at least one shard's links are ready (or no shard is needed yet).
  bool up() const;
  // The owning shard's subscribing and publishing links are ready; a shard this worker has not
  // used yet, or is connecting to for the first time, counts as up too (nothing is known to be
  // wrong with it, and a publish to it is accepted: it waits for the links). False without a map,
  // for a slot without a master, and for a shard that failed until both links are ready again.
  bool channel_up(std::string_view channel) const;
  // Reference-counted: SSUBSCRIBE on the first call (on the shard owning the channel's slot; kept
  // across reconnects, failovers and slot moves), SUNSUBSCRIBE when the count returns to zero.
  void subscribe(std::string_view channel);
  void unsubscribe(std::string_view channel);
  // SSUBSCRIBE confirmed on the current owner.
  bool confirmed(std::string_view channel) const;
  // SPUBLISH on the owning shard's publishing link, pipelined; MOVED/ASK followed; false when
  // dropped now (map unknown, shard down, buffer full).
  bool publish(std::string_view channel, std::string_view bytes);
  // Writes what was queued this iteration now.
  void flush();
  // Any key-routed command (XADD, XREVRANGE, ...): sent to the node owning key_slot(key),
  // MOVED/ASK followed; `done` gets the reply (nullptr when it failed: shard down, link lost,
  // stopped), possibly before command() returns.
  using reply_handler = std::function<void(const redisReply* reply)>;
  void command(std::string_view key, std::vector<std::string> argv, reply_handler done);
  // PUBSUB SHARDNUMSUB `channel` on the owning shard: the subscriber count, -1 on failure.
  void shardnumsub(std::string_view channel, std::function<void(long long)> done);

  // Introspection, for tests and /metrics: shards with links, and how many are fully up.
  size_t shards_in_use() const { return shards_.size(); }
  size_t shards_up() const;
  const cluster_map* map() const { return topology_.current(); }

 private:
  struct shard;
  struct op;
  struct channel_state {
    uint32_t refs = 0;
    std::string owner;     // address of the shard it is subscribed (or to be) on; empty: none
    uint64_t seq = 0;      // of the last SSUBSCRIBE sent
    bool sent = false;     // SSUBSCRIBE sent on the owner's current subscribing connection
    bool confirmed = false;
  };
  using channel_map = std::unordered_map<std::string, channel_state, string_hash, std::equal_to<>>;

  shard* find_shard(std::string_view address) const;
  shard& ensure_shard(const std::string& host, uint16_t port);
  std::string owner_by_map(std::string_view channel) const;
  void place(const std::string& channel, channel_state& st);
  void send_subscribe(shard& s, const std::string& channel, channel_state& st);
  void on_subscribe_reply(const std::string& channel, uint64_t seq, const std::string& host,
                          const redisReply* r);
  void on_push(shard& s, const resp_link::push& p);
  bool send_op(const std::shared_ptr<op>& o);
  void on_op_reply(const std::shared_ptr<op>& o, const redisReply* r);
  static void fail_op(const std::shared_ptr<op>& o);
  void on_link_ready(shard& s, bool sub);
  void on_link_down(shard& s, bool sub, const std::string& why);
  void schedule_reconnect(shard& s, bool sub);
  void on_map(const cluster_map& m, bool changed);
  void retire(const std::string& address);
  void update_state();
  void update_refreshing();
  static void on_health(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  uint32_t connect_timeout_ms_;
  uint32_t reconnect_max_ms_;
  uint64_t stall_ms_;
  std::string name_;
  worker_stats* stats_;
  callbacks cb_;
  cluster_topology topology_;
  std::unordered_map<std::string, std::unique_ptr<shard>, string_hash, std::equal_to<>> shards_;
  channel_map channels_;
  owned_timer health_;
  std::minstd_rand rng_;
  uint64_t next_seq_ = 0;
  uint64_t last_tick_ms_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool was_up_ = false;
  log::rate_limited error_log_;
};

}  // namespace chatd
