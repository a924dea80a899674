#pragma once
// Which Redis Cluster node serves which slots, for one worker: CLUSTER SLOTS read from the seed
// nodes (cfg.redis_seeds) and the nodes already known, one at a time, each within the connect
// timeout, on a short-lived resp_link of its own. The owner asks for a refresh whenever it learns
// the map is stale (a MOVED, a lost shard link, a shard channel unsubscribed by Redis); refreshes
// are coalesced (one in flight; one more queued behind it at most) and spaced k_min_interval_ms
// apart, and keep_refreshing(true) adds one every k_down_interval_ms while some shard is down, so
// a failover is seen without waiting for an error. A round in which no node answered is one
// warning (then debug lines until one answers) and is retried with capped backoff.
// Nodes learnt from CLUSTER SLOTS are reached with the first seed's password: a cluster shares one.

#include "common/cluster_slot.h"
#include "common/config.h"
#include "worker/owned_timer.h"
#include "worker/resp_link.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class cluster_topology {
 public:
  static constexpr uint64_t k_min_interval_ms = 100;
  static constexpr uint64_t k_down_interval_ms = 1000;

  struct callbacks {
    // A node answered CLUSTER SLOTS; `changed`: its masters or their slots differ from the last
    // map's (always true for the first). The map stays valid until the next update.
    std::function<void(const cluster_map& map, bool changed)> on_update;
    // A whole round failed: no node answered (the owner fails what waited for a refresh).
    std::function<void()> on_unreachable;
  };

  cluster_topology(uv_loop_t* loop, const config& cfg, std::string name, callbacks cb);
  ~cluster_topology();
  cluster_topology(const cluster_topology&) = delete;
  cluster_topology& operator=(const cluster_topology&) = delete;

  // The first fetch; once only.
  void start();
  // No fetch and no callback after this.
  void stop();
  // Asks for a fresh map (`why` for the debug log): coalesced and rate-limited, never now.
  void refresh(std::string_view why);
  // While on, a refresh every k_down_interval_ms.
  void keep_refreshing(bool on);
  // The last map read, or nullptr before the first.
  const cluster_map* current() const { return known_ ? &map_ : nullptr; }
  // How to reach `node` (its address with the seeds' password).
  redis_endpoint endpoint_of(const std::string& host, uint16_t port) const;

 private:
  void begin_round();
  void try_next();
  void on_probe_ready(uint64_t probe);
  void on_probe_reply(uint64_t probe, const redisReply* reply);
  void probe_failed(uint64_t probe, const std::string& why);
  void round_done(bool ok);
  void schedule(uint64_t delay_ms);
  static void on_delay(uv_timer_t* t) noexcept;
  static void on_periodic(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  std::vector<redis_endpoint> seeds_;
  uint32_t connect_timeout_ms_;
  uint32_t backoff_max_ms_;
  std::string name_;
  callbacks cb_;

  cluster_map map_;
  bool known_ = false;
  bool started_ = false;
  bool stopped_ = false;

  // The round in flight: nodes to ask, the next one's index, the probe link and its id.
  bool fetching_ = false;
  bool again_ = false;        // a refresh was asked for during the round
  bool scheduled_ = false;    // delay_ will begin a round
  std::vector<redis_endpoint> candidates_;
  size_t next_ = 0;
  std::string last_error_;
  std::unique_ptr<resp_link> probe_;
  uint64_t probe_id_ = 0;
  std::string last_good_;     // address that answered last: asked first next time
  uint64_t last_round_ms_ = 0;
  uint32_t backoff_ms_ = 0;   // after failed rounds
  bool in_outage_ = false;
  bool periodic_on_ = false;
  owned_timer delay_;
  owned_timer periodic_;
};

}  // namespace chatd
