#pragma once
// The bus' two Redis links and whether Redis is usable through them. Each lost link reconnects
// with capped, jittered exponential backoff; a PING on the publisher detects a Redis that keeps
// the TCP connection but stops answering; an outage is one warning line, not one per attempt;
// `up` (both links ready) is reported to the bus and in the stats' bus_up.
//
// Liveness: without the PING a stopped, swapping or wedged Redis would look "up" forever. A PING
// every k_health_interval_ms that goes unanswered for the stall time counts as an outage: both
// links are dropped and reconnect. A health tick that comes late means this worker's own loop was
// busy (a connection storm, say): the reply may be sitting unread in the socket, so the wait
// starts over instead.

#include "common/config.h"
#include "common/stats.h"
#include "worker/owned_timer.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <functional>
#include <random>
#include <string>
#include <string_view>

namespace chatd {

class bus_liveness {
 public:
  struct callbacks {
    // A link connected / was lost (by itself or dropped for a stall), before `up` is re-evaluated:
    // the subscriber resubscribes / forgets its confirmations here.
    std::function<void(redis_link& link)> on_link_ready;
    std::function<void(redis_link& link)> on_link_down;
    // up() changed.
    std::function<void(bool up)> on_state;
  };

  bus_liveness(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats,
               callbacks cb);
  ~bus_liveness();
  bus_liveness(const bus_liveness&) = delete;
  bus_liveness& operator=(const bus_liveness&) = delete;

  redis_link& subscriber() { return sub_; }
  redis_link& publisher() { return pub_; }

  // Connects both links and starts the PING; once only, never after stop().
  void start();
  // Stops reconnecting and the PING, drops both links (no callback follows) and reports down in
  // the stats. Pending hiredis callbacks run now, with no reply.
  void stop();
  bool up() const { return !stopped_ && sub_.ready() && pub_.ready(); }

 private:
  // One link's reconnect timer and backoff.
  struct reconnector {
    bus_liveness* owner;
    redis_link* link;
    uint32_t backoff_ms;
    owned_timer timer;
  };

  redis_link::callbacks events_of(redis_link& link);
  reconnector& reconnector_of(const redis_link& link) {
    return &link == &sub_ ? sub_retry_ : pub_retry_;
  }
  void on_link_ready(redis_link& link);
  void on_link_down(redis_link& link, const std::string& why);
  void update_up();
  void schedule_reconnect(reconnector& r);
  void on_stall(uint64_t silent_ms);
  static void on_retry(uv_timer_t* t) noexcept;
  static void on_health(uv_timer_t* t) noexcept;
  static void on_pong(redisAsyncContext*, void*, void* privdata) noexcept;

  uv_loop_t* loop_;
  uint32_t reconnect_max_ms_;
  uint64_t stall_ms_;
  std::string where_;
  std::string uid_;
  worker_stats* stats_;
  callbacks cb_;
  redis_link sub_;
  redis_link pub_;
  reconnector sub_retry_;
  reconnector pub_retry_;
  owned_timer health_;

  bool started_ = false;
  bool stopped_ = false;
  bool ping_outstanding_ = false;
  uint64_t ping_sent_ms_ = 0;
  // uv_hrtime() when the outstanding PING left, for its round trip; 0: not measurable (the loop
  // itself was late, so the reply may have waited for us).
  uint64_t ping_sent_ns_ = 0;
  uint64_t last_tick_ms_ = 0;

  bool was_up_ = false;
  bool ever_up_ = false;
  bool in_outage_ = false;
  uint64_t outage_since_ms_ = 0;
  uint64_t outage_attempts_ = 0;
  std::minstd_rand rng_;
};

}  // namespace chatd
