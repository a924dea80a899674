#pragma once
// The Redis bus of one worker: rooms across workers and hosts, wire-compatible with
// @socket.io/redis-adapter (classic). Two Redis connections: one subscriber (SUBSCRIBE to the base
// channel plus one channel per room that has local members), one publisher (commands issued in
// one loop iteration leave in one write: hiredis coalesces them; no per-publish round trip wait).
// When Redis is down, publishes are counted as dropped (local delivery already happened), the
// bus reconnects with backoff and, once back, resubscribes every room.

#include "common/bus_wire.h"
#include "common/config.h"
#include "common/stats.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatd {

class bus {
 public:
  struct callbacks {
    // A broadcast from another node for this namespace, already filtered: not our uid, nsp "/",
    // and (for a room channel) a room we have members in. Apply rooms/except locally.
    std::function<void(const wire::broadcast& b)> on_broadcast;
    // Redis connectivity changed (both links ready = up).
    std::function<void(bool up)> on_state;
    // Redis confirmed the subscription of a room's channel (after subscribe_room, and again after
    // each resubscription).
    std::function<void(std::string_view room)> on_room_ready;
  };

  bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats, callbacks cb);
  ~bus();
  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  void start();
  // Stops reconnecting and drops both links.
  void stop();

  const std::string& uid() const { return uid_; }
  bool up() const;

  // Reference-counted per room: SUBSCRIBE on the first call for a room, UNSUBSCRIBE when the
  // matching unsubscribe_room calls bring it back to zero.
  void subscribe_room(std::string_view room);
  void unsubscribe_room(std::string_view room);
  // True while the bus is up and the room's SUBSCRIBE has been sent but not yet confirmed: a
  // broadcast published elsewhere now might not reach this worker.
  bool room_pending(std::string_view room) const;

  // Publishes b (its uid is set to ours) on the room channel when it names exactly one room, else
  // on the base channel. Returns false when it was dropped (Redis down or encode error).
  bool publish(wire::broadcast b);
  // Sends the publishes issued so far now (one write), ahead of the local fan-out's writes, so
  // other workers start delivering while this one still writes to its own connections.
  void flush();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string uid_;
};

}  // namespace chatd
