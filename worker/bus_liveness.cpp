// The bus' links kept alive (see bus_liveness.h): reconnect with backoff, the stall PING, outage
// logging and the up state.

#include "worker/bus_liveness.h"

#include "common/log.h"
#include "worker/bus_common.h"

#include <algorithm>
#include <chrono>

namespace chatd {
namespace {

constexpr uint32_t k_initial_backoff_ms = 100;
constexpr uint64_t k_health_interval_ms = 1000;
// A PING may wait this long (or the connect timeout, if longer) before Redis counts as stalled:
// well above a busy Redis' worst pause (a fork for a snapshot, say), well below a user's patience.
constexpr uint64_t k_min_stall_ms = 5000;

std::string where_of(const redis_endpoint& e) {
  return e.unix_path.empty() ? fmt::format("{}:{}", e.host, e.port) : "unix:" + e.unix_path;
}

}  // namespace

bus_liveness::bus_liveness(uv_loop_t* loop, const config& cfg, std::string uid,
                           worker_stats* stats, callbacks cb)
    : loop_(loop),
      reconnect_max_ms_(std::max(cfg.redis_reconnect_max_ms, k_initial_backoff_ms)),
      stall_ms_(std::max<uint64_t>(k_min_stall_ms, cfg.redis_connect_timeout_ms)),
      where_(where_of(cfg.redis)),
      uid_(std::move(uid)),
      stats_(stats),
      cb_(std::move(cb)),
      sub_(loop, cfg.redis, cfg.redis_connect_timeout_ms, "subscriber", events_of(sub_)),
      pub_(loop, cfg.redis, cfg.redis_connect_timeout_ms, "publisher", events_of(pub_)),
      sub_retry_{this, &sub_, k_initial_backoff_ms, owned_timer(loop, &sub_retry_)},
      pub_retry_{this, &pub_, k_initial_backoff_ms, owned_timer(loop, &pub_retry_)},
      health_(loop, this),
      // Seeded per worker and per start, so workers that lost Redis together retry apart.
      rng_(static_cast<uint32_t>(
          std::hash<std::string>{}(uid_) ^
          static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count()))) {}

bus_liveness::~bus_liveness() { stop(); }

redis_link::callbacks bus_liveness::events_of(redis_link& link) {
  // Only the address is taken here: `link` is being constructed, its callbacks run later.
  return {[this, &link] { on_link_ready(link); },
          [this, &link](const std::string& why) { on_link_down(link, why); }};
}

void bus_liveness::start() {
  if (started_ || stopped_) {
    return;
  }
  started_ = true;
  sub_.connect();
  pub_.connect();
  health_.start(on_health, k_health_interval_ms, k_health_interval_ms);
}

void bus_liveness::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  sub_retry_.timer.close();
  pub_retry_.timer.close();
  health_.close();
  // Neither link calls back on a disconnect we ask for.
  sub_.disconnect();
  pub_.disconnect();
  was_up_ = false;
  if (stats_ != nullptr) {
    stats_->bus_up.store(0, std::memory_order_relaxed);
  }
}

// ------------------------------------------------------------------ up and outages

void bus_liveness::update_up() {
  const bool now = up();
  if (now == was_up_) {
    return;
  }
  was_up_ = now;
  if (stats_ != nullptr) {
    stats_->bus_up.store(now ? 1 : 0, std::memory_order_relaxed);
  }
  if (now) {
    if (in_outage_) {
      log::info("redis bus: {} {} after {} ms ({} reconnect attempts)",
                ever_up_ ? "reachable again at" : "connected to", where_,
                uv_now(loop_) - outage_since_ms_, outage_attempts_);
      in_outage_ = false;
    } else if (!ever_up_) {
      log::info("redis bus: connected to {} (uid {})", where_, uid_);
    }
    ever_up_ = true;
  }
  if (cb_.on_state) {
    cb_.on_state(now);
  }
}

void bus_liveness::on_link_ready(redis_link& link) {
  if (stopped_) {
    return;
  }
  reconnector_of(link).backoff_ms = k_initial_backoff_ms;
  if (cb_.on_link_ready) {
    cb_.on_link_ready(link);
  }
  update_up();
}

void bus_liveness::on_link_down(redis_link& link, const std::string& why) {
  if (stopped_) {
    return;
  }
  if (cb_.on_link_down) {
    cb_.on_link_down(link);
  }
  if (!in_outage_) {
    // One line per outage; the attempts that follow are debug-level until Redis is back.
    in_outage_ = true;
    outage_since_ms_ = uv_now(loop_);
    outage_attempts_ = 0;
    log::warn("redis bus: {} ({}); local delivery goes on, reconnecting with backoff up to {} ms",
              ever_up_ ? "lost Redis" : "cannot reach Redis", why, reconnect_max_ms_);
  } else {
    log::debug("redis bus: still down: {}", why);
  }
  update_up();
  schedule_reconnect(reconnector_of(link));
}

// ------------------------------------------------------------------ reconnect

void bus_liveness::schedule_reconnect(reconnector& r) {
  const uint32_t base = std::min(r.backoff_ms, reconnect_max_ms_);
  // Jitter takes up to a quarter off, so workers that lost Redis together spread out.
  const uint32_t delay = base - static_cast<uint32_t>(rng_() % (base / 4 + 1));
  r.backoff_ms = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{base} * 2, reconnect_max_ms_));
  r.timer.start(on_retry, delay, 0);
}

void bus_liveness::on_retry(uv_timer_t* t) noexcept {
  auto* r = static_cast<reconnector*>(t->data);
  bus_liveness* self = r->owner;
  if (self->stopped_) {
    return;
  }
  bus_count(self->stats_, &worker_stats::bus_reconnects_total);
  ++self->outage_attempts_;
  r->link->connect();
}

// ------------------------------------------------------------------ stall detection

void bus_liveness::on_health(uv_timer_t* t) noexcept {
  auto* self = static_cast<bus_liveness*>(t->data);
  if (self->stopped_) {
    return;
  }
  redisAsyncContext* ctx = self->pub_.context();
  if (ctx == nullptr) {
    self->ping_outstanding_ = false;
    return;
  }
  const uint64_t now = uv_now(self->loop_);
  const bool late =
      self->last_tick_ms_ != 0 && now - self->last_tick_ms_ > 2 * k_health_interval_ms;
  self->last_tick_ms_ = now;
  if (self->ping_outstanding_ && late) {
    self->ping_sent_ms_ = now;
    self->ping_sent_ns_ = 0;
    return;
  }
  if (self->ping_outstanding_) {
    if (now - self->ping_sent_ms_ >= self->stall_ms_) {
      self->on_stall(now - self->ping_sent_ms_);
    }
    return;
  }
  if (redisAsyncCommand(ctx, on_pong, self, "PING") == REDIS_OK) {
    self->ping_outstanding_ = true;
    self->ping_sent_ms_ = now;
    self->ping_sent_ns_ = uv_hrtime();
  }
}

// The PING's reply (none when the link is dropped): its round trip into the stats, one clock
// read a second.
void bus_liveness::on_pong(redisAsyncContext*, void* reply, void* privdata) noexcept {
  auto* self = static_cast<bus_liveness*>(privdata);
  self->ping_outstanding_ = false;
  if (reply != nullptr && self->ping_sent_ns_ != 0 && self->stats_ != nullptr) {
    const uint64_t rtt = uv_hrtime() - self->ping_sent_ns_;
    self->stats_->redis_last_rtt_ns.store(rtt, std::memory_order_relaxed);
    self->stats_->redis_rtt_ns.observe(k_latency_bounds_ns, rtt);
  }
  self->ping_sent_ns_ = 0;
}

void bus_liveness::on_stall(uint64_t silent_ms) {
  const std::string why = fmt::format("no reply from Redis for {} ms", silent_ms);
  ping_outstanding_ = false;
  // disconnect() does not call back, so report both links down ourselves.
  pub_.disconnect();
  sub_.disconnect();
  on_link_down(pub_, why);
  on_link_down(sub_, why);
}

}  // namespace chatd
