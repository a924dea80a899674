#pragma once
// The Redis bus of one worker: rooms across workers and hosts, wire-compatible with
// @socket.io/redis-adapter (classic). A facade over three parts, one job each:
// - bus_liveness: the two Redis links, kept connected (reconnect with backoff, a PING against a
//   stalled Redis) and whether the bus is up;
// - bus_subscriber: the subscriber link (the base channel, one channel per room that has local
//   members, fixed channels) and the dispatch of what arrives on it;
// - bus_publisher: the publisher link (commands issued in one loop iteration leave in one write:
//   hiredis coalesces them; no per-publish round trip wait).
// When Redis is down, publishes are counted as dropped (local delivery already happened), the
// bus reconnects with backoff and, once back, subscribes every room and fixed channel again.

#include "common/bus_wire.h"
#include "common/config.h"
#include "common/stats.h"
#include "worker/bus_liveness.h"
#include "worker/bus_port.h"
#include "worker/bus_publisher.h"
#include "worker/bus_subscriber.h"

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

namespace chatd {

class bus final : public bus_port {
 public:
  struct callbacks {
    // A broadcast from another node for this namespace, already filtered: not our uid (unless
    // deliver_own), nsp "/",
    // and (for a room channel) a room we have members in. Apply rooms/except locally.
    std::function<void(const wire::broadcast& b)> on_broadcast;
    // Redis connectivity changed (both links ready = up).
    std::function<void(bool up)> on_state;
    // Redis confirmed the subscription of a room's channel (after subscribe_room, and again after
    // each resubscription).
    std::function<void(std::string_view room)> on_room_ready;
    // With the pattern subscription: whether `room` names a local socket (its own room), so a
    // broadcast to io.to(socket.id) is not dropped before decoding; socket rooms then need no
    // subscribe_room of their own.
    std::function<bool(std::string_view room)> is_local_socket;
  };
  // One message on a fixed channel: its channel and its payload, byte for byte as published (any
  // bytes, not only UTF-8). The views are valid during the call only. The handler must not call
  // subscribe_fixed or serve_requests.
  using raw_handler = bus_subscriber::raw_handler;

  bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats, callbacks cb);
  ~bus() override;
  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  void start() override;
  // Stops reconnecting and drops both links; nothing is delivered after it, not even messages
  // already read. Safe from inside any callback of the bus.
  void stop() override;

  const std::string& uid() const override { return uid_; }
  bool up() const override { return live_.up(); }

  // Reference-counted per room: SUBSCRIBE on the first call for a room, UNSUBSCRIBE when the
  // matching unsubscribe_room calls bring it back to zero.
  void subscribe_room(std::string_view room) override { sub_.subscribe_room(room); }
  void unsubscribe_room(std::string_view room) override { sub_.unsubscribe_room(room); }
  // True while the bus is up and the room's SUBSCRIBE has been sent but not yet confirmed: a
  // broadcast published elsewhere now might not reach this worker.
  bool room_pending(std::string_view room) const override { return up() && !sub_.confirmed(room); }

  // Publishes b (its uid is set to ours) on the room channel when it names exactly one room, else
  // on the base channel. Returns false when it was dropped (Redis down or encode error).
  bool publish(wire::broadcast b) override { return pub_.publish(std::move(b)); }
  // Sends the publishes issued so far now (one write), ahead of the local fan-out's writes, so
  // other workers start delivering while this one still writes to its own connections.
  void flush() override { pub_.flush(); }

  // ---- connection state recovery (worker/stream_publisher.h, worker/recovery.h)

  // The publisher link, for the commands of recorded broadcasts, session records and history:
  // on the same connection as the PUBLISHes, so they keep their order with them.
  redis_link& command_link() { return live_.publisher(); }
  // on_broadcast gets this worker's own broadcasts too (recovery delivers them when they come
  // back from Redis, in stream order); off by default.
  void deliver_own(bool on) { sub_.deliver_own(on); }

  // ---- raw channels: the plumbing of the adapter's inter-node requests

  // Subscribes to `channel` exactly, for the bus' life: at once when connected, else when it
  // connects, and again after every reconnect. Each message on it goes to `handler` raw (no
  // decoding, no uid filter, not counted as a received broadcast). Called again for the same
  // channel, it replaces the handler. `channel` must not be the base channel or a room's.
  void subscribe_fixed(std::string channel, raw_handler handler) {
    sub_.subscribe_fixed(std::move(channel), std::move(handler));
  }
  // Makes this worker a node of the adapter's request channel on "/": subscribes
  // "<key>-request#/#" (each worker then counts in PUBSUB NUMSUB, which is how a requesting node
  // knows how many responses to wait for) with its messages to on_request, and both response
  // channels, "<key>-response#/#" and "<key>-response#/#<uid>#", with theirs to on_response.
  // Opt-in: a node that subscribes must also answer, or every request elsewhere waits for it
  // until its timeout.
  void serve_requests(raw_handler on_request, raw_handler on_response);
  // PUBLISHes `bytes` unchanged on `channel` (a request or a response), pipelined like publish
  // and under the same caps; not counted in the broadcast counters. False when dropped (Redis
  // down or not keeping up).
  bool publish_raw(std::string_view channel, std::string_view bytes) {
    return pub_.publish_raw(channel, bytes);
  }
  // PUBSUB NUMSUB `channel` (see bus_publisher::numsub).
  void numsub(std::string_view channel, bus_publisher::count_handler done) {
    pub_.numsub(channel, std::move(done));
  }

 private:
  std::string uid_;
  // Declared first: it owns the links the other two use, so it goes last.
  bus_liveness live_;
  bus_subscriber sub_;
  bus_publisher pub_;
};

}  // namespace chatd
