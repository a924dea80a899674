#pragma once
// The bus' subscriber link: what this worker is SUBSCRIBEd to and where each message goes.
// Broadcasts arrive one of two ways (adapter.subscription):
// - pattern (the default, as a Node adapter does): one PSUBSCRIBE "<prefix>#/#*" carries the base
//   channel and every room's; a room's message is dropped before decoding unless the room has
//   local members. No command per room, and nothing published to a room right after a remote
//   socketsJoin can be missed while a SUBSCRIBE is in flight; every worker reads the whole
//   fleet's broadcasts, though.
// - rooms: the base channel ("<prefix>#/#"), always, and one channel per room with local
//   members, reference-counted: SUBSCRIBE at the first subscribe_room, UNSUBSCRIBE when the last
//   unsubscribe_room brings it to zero. A worker reads only what it can deliver.
// Either way a room counts as confirmed once Redis acknowledged its (P)SUBSCRIBE on the current
// connection; rooms are reference-counted for the drop-before-decoding check;
// - fixed channels (the adapter's request and response channels), for the bus' whole life.
// After every (re)connect on_ready() subscribes all of them again, in batches.
// Dispatch by channel: a fixed channel's message goes to its handler as raw bytes; a message on
// the base or a room channel is decoded and, unless it is our own or for another namespace,
// handed to on_broadcast.
//
// Re-entrancy: a fixed channel's handler must not call subscribe_fixed (the handler list would
// change under the call); checked with CHATD_ASSERT.

#include "common/bus_wire.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "common/string_hash.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatd {

class bus_subscriber {
 public:
  // One message's channel and payload, exactly as Redis delivered them; valid during the call.
  using raw_handler = std::function<void(std::string_view channel, std::string_view payload)>;
  struct callbacks {
    std::function<void(const wire::broadcast& b)> on_broadcast;
    std::function<void(std::string_view room)> on_room_ready;
    std::function<bool(std::string_view room)> is_local_socket;  // see bus::callbacks
  };

  // `link` must outlive this object; its ready/down events are passed in through on_ready() and
  // on_down() by whoever owns it.
  bus_subscriber(uv_loop_t* loop, redis_link& link, std::string prefix, std::string uid,
                 worker_stats* stats, callbacks cb, bool pattern = true);
  bus_subscriber(const bus_subscriber&) = delete;
  bus_subscriber& operator=(const bus_subscriber&) = delete;

  void subscribe_room(std::string_view room);
  void unsubscribe_room(std::string_view room);
  // The channel prefix (the config's redis_key).
  const std::string& prefix() const { return prefix_; }
  // Redis acknowledged the room's SUBSCRIBE on the current connection.
  bool confirmed(std::string_view room) const {
    return pattern_ ? pattern_confirmed_ : confirmed_.contains(room);
  }
  // Adds (or, for a channel given before, replaces the handler of) a fixed channel; subscribed at
  // once when the link is ready, else at the next connect. `channel` must not be one of the
  // broadcast channels (the base channel or a room's).
  void subscribe_fixed(std::string channel, raw_handler handler);

  // The link connected: subscribe everything again.
  void on_ready();
  // The link was lost: each room must be confirmed again on the next connection.
  void on_down() {
    confirmed_.clear();
    pattern_confirmed_ = false;
  }
  // Connection state recovery: our own broadcasts come back to us too (the worker delivers its
  // recorded broadcasts to its own members in stream order, when Redis hands them back).
  void deliver_own(bool on) { deliver_own_ = on; }
  // No SUBSCRIBE and no delivery after this, not even of messages already read from the socket.
  void stop() { stopped_ = true; }

 private:
  struct fixed_channel {
    std::string channel;
    raw_handler handler;
  };

  void send_channels(const char* command, std::span<const std::string> channels);
  static void on_reply(redisAsyncContext*, void* r, void* privdata) noexcept;
  void on_subscribed(std::string_view channel);
  void on_pattern_subscribed();
  void on_message(std::string_view channel, std::string_view payload);
  void on_broadcast_message(std::string_view channel, std::string_view payload);

  uv_loop_t* loop_;
  redis_link& link_;
  std::string prefix_;
  std::string uid_;
  worker_stats* stats_;
  callbacks cb_;
  std::string base_channel_;
  bool pattern_;
  std::string pattern_channel_;  // "<prefix>#/#*", glob characters of the prefix escaped
  bool pattern_confirmed_ = false;

  // room -> local members subscribed
  std::unordered_map<std::string, uint32_t, string_hash, std::equal_to<>> rooms_;
  std::unordered_set<std::string, string_hash, std::equal_to<>> confirmed_;
  // A handful (the adapter's three): a scan beats a hash, and a broadcast channel differs from
  // each within its first dozen bytes.
  std::vector<fixed_channel> fixed_;
  bool in_fixed_handler_ = false;
  bool stopped_ = false;
  bool deliver_own_ = false;

  log::rate_limited bad_message_log_;
  log::rate_limited error_log_;
};

}  // namespace chatd
