#pragma once
// What chat needs of a bus, whichever Redis is behind it: the classic bus (worker/bus.h, one
// Redis, the classic adapter format) or the sharded bus (worker/sharded_bus.h, Redis Cluster,
// the sharded adapter format). One implementation per worker, chosen by redis.mode.

#include "common/bus_wire.h"

#include <string>
#include <string_view>

namespace chatd {

class bus_port {
 public:
  virtual ~bus_port() = default;

  virtual const std::string& uid() const = 0;
  virtual bool up() const = 0;
  virtual void start() = 0;
  // Stops reconnecting and drops every link; nothing is delivered after it. Safe from inside any
  // callback of the bus.
  virtual void stop() = 0;

  // Reference-counted per room: the room's channel is subscribed at the first call, unsubscribed
  // when the matching unsubscribe_room calls bring it back to zero.
  virtual void subscribe_room(std::string_view room) = 0;
  virtual void unsubscribe_room(std::string_view room) = 0;
  // True while the room's subscription has been sent but not yet confirmed: a broadcast
  // published elsewhere now might not reach this worker.
  virtual bool room_pending(std::string_view room) const = 0;

  // Publishes b (its uid is set to ours). False when it was dropped (Redis, or the shard that
  // owns the room's channel, down; or an encode error).
  virtual bool publish(wire::broadcast b) = 0;
  // Sends what was published so far now (one write per link), ahead of the local fan-out.
  virtual void flush() = 0;
};

}  // namespace chatd
