#pragma once
// Recorded broadcasts (connection state recovery on): one Lua script per broadcast XADDs it to
// the namespace stream and PUBLISHes the adapter's message with the new entry id spliced in as
// the packet's last argument (and, for a `chat` message with history on, XADDs the payload to
// the room's history stream under the same id). Redis runs a script atomically, so the order of
// the PUBLISHes is the order of the ids: every subscriber, chatd worker or Node server, sees
// offsets in increasing order, which is what lets a restore replay up to an id and drop the
// live copies at or below it.
//
// Commands are pipelined on the bus' publisher link like bus_publisher's PUBLISHes, under the
// same caps, and never waited for. EVALSHA is sent; a NOSCRIPT answer (a Redis that restarted
// or flushed its scripts) is resent as EVAL. To keep the order of a sender's broadcasts,
// everything published after a NOSCRIPT waits until every EVALSHA already sent has answered,
// then all of it goes as EVAL, in order.

#include "common/recovery_wire.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <deque>
#include <string>
#include <string_view>

namespace chatd {

class stream_publisher {
 public:
  struct settings {
    std::string key;                 // redis.key: the namespace stream, channels, room streams
    uint32_t max_entries = 100000;   // the namespace stream's MAXLEN ~
    uint32_t history_max_messages = 0;  // a room stream's MAXLEN ~; 0: no history
    uint32_t history_max_age_ms = 0;    // a room stream's expiry after its last message
  };
  // `link` (the bus' publisher) must outlive this object.
  stream_publisher(uv_loop_t* loop, redis_link& link, std::string uid, worker_stats* stats,
                   settings s);
  stream_publisher(const stream_publisher&) = delete;
  stream_publisher& operator=(const stream_publisher&) = delete;

  // Records b (a plain EVENT; on the room's channel when it names one room, else the base
  // channel, as bus_publisher) and publishes it with its offset; `history_payload`, when not empty, goes to the
  // history of b's one room. False when dropped (down, over a cap, not recordable): the caller
  // then delivers locally as without recovery.
  // b's uid is set to ours.
  bool publish(wire::broadcast& b, std::string_view history_payload);
  // Nothing is sent after this.
  void stop() { stopped_ = true; }

  // The script's text and its SHA1 (what EVALSHA names): tests load it into a real Redis.
  static const std::string& script();
  static const std::string& script_sha();

 private:
  struct pending {
    std::string channel;
    std::string history_key;  // empty: no history
    std::string history_payload;
    recovery_wire::recorded_broadcast rec;
  };
  bool send(pending& p, bool eval);
  static void on_reply(redisAsyncContext*, void* r, void* privdata) noexcept;
  void on_answer(redisReply* reply);
  void resend_held();
  bool drop(std::string_view why);

  uv_loop_t* loop_;
  redis_link& link_;
  std::string uid_;
  worker_stats* stats_;
  settings s_;
  std::string stream_key_;
  std::string max_entries_;
  std::string history_max_;
  std::string history_age_;
  std::string base_channel_;
  // Sent and not answered, oldest first: replies come in this order on the one connection.
  std::deque<pending> in_flight_;
  // After a NOSCRIPT: what waits to be sent as EVAL, in order (the failed ones first).
  std::deque<pending> held_;
  bool recovering_noscript_ = false;
  size_t noscript_failed_ = 0;  // the first entries of held_: sent once, answered NOSCRIPT
  bool over_cap_ = false;
  bool stopped_ = false;
  log::rate_limited error_log_;
  log::rate_limited drop_log_;
};

}  // namespace chatd
