#pragma once
// The bus of one worker on Redis Cluster (redis.mode: cluster), wire-compatible with
// @socket.io/redis-adapter's sharded adapter (createShardedAdapter, subscriptionMode "dynamic"),
// so chatd workers and Node servers on that adapter share rooms and answer each other's
// requests. Transport: worker/shard_pubsub.h (SSUBSCRIBE/SPUBLISH on the shard that owns each
// channel's slot). Channels, as the Node adapter's:
//   "<key>#/#"          the namespace: broadcasts to all / several rooms / with acks, requests
//   "<key>#/#<room>#"   one per public room with local members (not socket ids: length 20)
//   "<key>#/#<uid>#"    this node's answers
// Every message is {uid, nsp, type, data} (common/sharded_wire.h). A node ignores its own
// messages (Node's ClusterAdapter applies its own socketsJoin & co. locally before publishing),
// and a shard that is down costs only the rooms whose channels it owns.
// Heartbeats: Node's sharded adapter sends none and ignores them; chatd sends INITIAL_HEARTBEAT
// when the bus comes up, HEARTBEAT every k_heartbeat_ms and ADAPTER_CLOSE on stop, and answers
// an INITIAL_HEARTBEAT with a HEARTBEAT, as ClusterAdapterWithHeartbeat nodes expect.

#include "common/config.h"
#include "common/rate_limited.h"
#include "common/sharded_wire.h"
#include "common/stats.h"
#include "worker/adapter_wire.h"
#include "worker/bus_port.h"
#include "worker/owned_timer.h"
#include "worker/redis_command.h"
#include "worker/shard_pubsub.h"

#include <uv.h>

#include "common/string_hash.h"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace chatd {

class sharded_bus final : public bus_port, public adapter_wire {
 public:
  struct callbacks {
    std::function<void(const wire::broadcast& b)> on_broadcast;  // see bus::callbacks
    std::function<void(bool up)> on_state;
    std::function<void(std::string_view room)> on_room_ready;
  };
  static constexpr uint64_t k_heartbeat_ms = 5000;

  sharded_bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats,
              callbacks cb);
  ~sharded_bus() override;
  sharded_bus(const sharded_bus&) = delete;
  sharded_bus& operator=(const sharded_bus&) = delete;

  // bus_port
  const std::string& uid() const override { return uid_; }
  // This worker is a full node of the namespace: its namespace and response channels are
  // subscribed on shards that are up. Rooms on other shards may be degraded meanwhile.
  // Re-evaluated whenever shard_pubsub says a shard or the map changed (that shard may fail
  // alone, which does not change shard_pubsub's own up()).
  bool up() const override { return up_; }
  void start() override;
  void stop() override;
  void subscribe_room(std::string_view room) override;
  void unsubscribe_room(std::string_view room) override;
  bool room_pending(std::string_view room) const override;
  bool publish(wire::broadcast b) override;
  void flush() override { ps_.flush(); }

  // adapter_wire
  void serve(request_handler on_request, response_handler on_response) override;
  bool respond(std::string_view requester_uid, wire::request_type asked,
               const wire::bus_response& answer) override;
  bool request(const wire::bus_request& r) override;
  void count_nodes(count_handler done) override;

  // Key-routed commands (the rooms' history streams), to the node owning each key's slot.
  redis_commander commander();

 private:
  void on_message(std::string_view channel, std::string_view payload);
  void on_subscribed(std::string_view channel);
  void update_up();
  void release_degraded();
  void on_shards_changed();
  bool publish_message(const std::string& channel, const wire::sharded::message& m);
  void send_control(wire::sharded::message_type type);
  void bad_message(std::string_view channel, std::string_view why);
  static void on_heartbeat(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  const config& cfg_;
  std::string uid_;
  worker_stats* stats_;
  callbacks cb_;
  std::string ns_channel_;        // "<key>#/#"
  std::string response_channel_;  // "<key>#/#<uid>#"
  request_handler on_request_;
  response_handler on_response_;
  bool started_ = false;
  bool stopped_ = false;
  bool up_ = false;
  // Rooms subscribed whose SSUBSCRIBE is not confirmed yet: chat may hold CONNECT answers for
  // them. One whose shard turns out to be down is released (on_room_ready) as soon as shard_pubsub
  // reports the change, as nothing else would: the room is degraded, not pending.
  std::unordered_set<std::string, string_hash, std::equal_to<>> unconfirmed_;
  log::rate_limited bad_log_;
  log::rate_limited encode_log_;  // outgoing messages that could not be encoded
  owned_timer heartbeat_;
  shard_pubsub ps_;  // last: destroyed first, so no callback reaches a half-destroyed bus
};

}  // namespace chatd
