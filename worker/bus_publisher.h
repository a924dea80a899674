#pragma once
// The bus' publisher link: PUBLISH without waiting. A publish only appends the command to
// hiredis' output buffer; the link's write event (or flush()) sends everything issued in one loop
// iteration in one write, and no publish waits for its reply.
// If Redis stalls, that buffer would grow without end: publishes beyond k_max_output_bytes of
// unsent data or k_max_unanswered replies are dropped (a warning when that starts, an info line
// when it ends). While the link is down every publish is dropped; broadcasts count as dropped in
// the stats (their local delivery already happened), and a dropped broadcast is logged at most
// once per log::rate_limited interval, with how many were dropped since the last line.

#include "common/bus_wire.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace chatd {

class bus_publisher {
 public:
  // `link` must outlive this object.
  bus_publisher(uv_loop_t* loop, redis_link& link, std::string prefix, std::string uid,
                worker_stats* stats);
  bus_publisher(const bus_publisher&) = delete;
  bus_publisher& operator=(const bus_publisher&) = delete;

  // Publishes b with our uid on the room channel when it names exactly one room, else on the
  // base channel; counted as published or dropped. False when dropped.
  bool publish(wire::broadcast b);
  // Publishes `bytes` unchanged on `channel`, under the same caps; not a broadcast, so not in the
  // broadcast counters. False when dropped.
  bool publish_raw(std::string_view channel, std::string_view bytes);
  // PUBSUB NUMSUB `channel`: how many subscribers Redis counts there (the adapter's
  // serverCount()). `done` gets the count, or nullopt when the link is down or the reply failed
  // (hiredis calls back with no reply when the link drops: `done` always runs once).
  using count_handler = std::function<void(std::optional<long long>)>;
  void numsub(std::string_view channel, count_handler done);
  // Writes the commands issued so far now.
  void flush();
  // Nothing is published after this.
  void stop() { stopped_ = true; }

 private:
  // Appends one PUBLISH to the output buffer; false when down or over a cap.
  bool enqueue(std::string_view channel, std::string_view bytes);
  // Counts and logs (rate-limited) one dropped broadcast; false.
  bool drop(std::string_view why);
  static void on_reply(redisAsyncContext*, void* r, void* privdata) noexcept;
  static void on_numsub(redisAsyncContext*, void* r, void* privdata) noexcept;

  uv_loop_t* loop_;
  redis_link& link_;
  std::string prefix_;
  std::string uid_;
  worker_stats* stats_;
  std::string base_channel_;
  size_t unanswered_ = 0;  // PUBLISH replies not yet received
  bool over_cap_ = false;
  bool stopped_ = false;
  log::rate_limited error_log_;
  log::rate_limited drop_log_;
};

}  // namespace chatd
