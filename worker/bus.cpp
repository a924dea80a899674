// The Redis bus of one worker (see bus.h): a subscriber link that follows the rooms this worker
// has members in, a publisher link that pipelines PUBLISH commands, reconnection with capped,
// jittered exponential backoff, and the counters /metrics shows.
//
// Pipelining: publish() only appends to hiredis' output buffer; the uv_poll write event makes
// everything issued in one loop iteration leave in one write. No publish waits for a reply.
// If Redis stalls, that buffer would grow without end: publishes beyond k_max_output_bytes of
// unsent data or k_max_unanswered replies are dropped and counted instead.
//
// Liveness: a Redis that keeps the TCP connection but stops answering (stopped, swapping, wedged)
// would otherwise look "up" forever. A PING on the publisher every k_health_interval_ms that
// goes unanswered for the stall time counts as an outage: both links are dropped and reconnect.
// A health tick that comes late means this worker's own loop was busy (a connection storm, say):
// the reply may be sitting unread in the socket, so the wait starts over instead.

#include "worker/bus.h"

#include "common/log.h"
#include "common/rate_limited.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatd {
namespace {

constexpr uint32_t k_initial_backoff_ms = 100;
// Unsent PUBLISH bytes allowed in hiredis' output buffer: about a third of a second of the
// measured pipelined PUBLISH rate at 200-byte messages; beyond it Redis is not keeping up.
constexpr size_t k_max_output_bytes = 32u << 20;
// PUBLISH replies outstanding: each holds a hiredis callback record until Redis answers.
constexpr size_t k_max_unanswered = 1u << 18;
// Channels per SUBSCRIBE command when resubscribing many rooms at once.
constexpr size_t k_subscribe_batch = 512;
constexpr const char* k_nsp = "/";
constexpr uint64_t k_health_interval_ms = 1000;
constexpr uint64_t k_min_stall_ms = 5000;

}  // namespace

struct bus::impl {
  // A reconnect timer; freed in its close callback, which may run after the bus is gone.
  struct retry {
    uv_timer_t timer{};
    impl* owner = nullptr;
    redis_link* link = nullptr;
    uint32_t backoff_ms = k_initial_backoff_ms;
  };

  uv_loop_t* loop;
  std::string prefix;
  uint32_t reconnect_max_ms;
  std::string uid;
  worker_stats* stats;
  callbacks cb;
  std::string base_channel;
  std::string where;

  std::unique_ptr<redis_link> sub;
  std::unique_ptr<redis_link> pub;
  retry* sub_retry = nullptr;
  retry* pub_retry = nullptr;
  retry* health = nullptr;  // the liveness PING timer (`link` unused)
  uint64_t stall_ms;
  bool ping_outstanding = false;
  uint64_t ping_sent_ms = 0;
  uint64_t last_tick_ms = 0;

  std::unordered_map<std::string, uint32_t> rooms;  // room -> local members subscribed
  std::unordered_set<std::string> confirmed;         // rooms whose SUBSCRIBE Redis confirmed
  bool started = false;
  bool stopped = false;
  bool was_up = false;
  bool ever_up = false;
  bool in_outage = false;
  uint64_t outage_since_ms = 0;
  uint64_t outage_attempts = 0;

  size_t unanswered = 0;  // PUBLISH replies not yet received
  bool over_cap = false;

  log::rate_limited bad_message_log;
  log::rate_limited publish_error_log;
  std::minstd_rand rng;

  impl(uv_loop_t* l, const config& cfg, std::string id, worker_stats* s, callbacks c)
      : loop(l),
        prefix(cfg.redis_key),
        reconnect_max_ms(std::max(cfg.redis_reconnect_max_ms, k_initial_backoff_ms)),
        uid(std::move(id)),
        stats(s),
        cb(std::move(c)),
        base_channel(wire::broadcast_channel(prefix, k_nsp)),
        stall_ms(std::max<uint64_t>(k_min_stall_ms, cfg.redis_connect_timeout_ms)),
        rng(static_cast<uint32_t>(std::hash<std::string>{}(uid) ^
                                  static_cast<size_t>(std::chrono::steady_clock::now()
                                                          .time_since_epoch()
                                                          .count()))) {
    where = cfg.redis.unix_path.empty()
                ? fmt::format("{}:{}", cfg.redis.host, cfg.redis.port)
                : "unix:" + cfg.redis.unix_path;
    sub = std::make_unique<redis_link>(
        loop, cfg.redis, cfg.redis_connect_timeout_ms, "subscriber",
        redis_link::callbacks{[this] { on_link_ready(*sub); },
                              [this](const std::string& why) { on_link_down(*sub, why); }});
    pub = std::make_unique<redis_link>(
        loop, cfg.redis, cfg.redis_connect_timeout_ms, "publisher",
        redis_link::callbacks{[this] { on_link_ready(*pub); },
                              [this](const std::string& why) { on_link_down(*pub, why); }});
    sub_retry = make_retry(sub.get());
    pub_retry = make_retry(pub.get());
    health = make_retry(nullptr);
  }

  ~impl() { stop(); }

  retry* make_retry(redis_link* link) {
    auto* r = new retry;
    r->owner = this;
    r->link = link;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    return r;
  }

  static void close_retry(retry*& r) {
    if (r == nullptr) {
      return;
    }
    uv_timer_stop(&r->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&r->timer),
             [](uv_handle_t* h) noexcept { delete static_cast<retry*>(h->data); });
    r = nullptr;
  }

  retry* retry_of(const redis_link& link) { return &link == sub.get() ? sub_retry : pub_retry; }

  template <class T>
  void count(std::atomic<T> worker_stats::*field) {
    if (stats != nullptr) {
      (stats->*field).fetch_add(1, std::memory_order_relaxed);
    }
  }

  // ------------------------------------------------------------------ lifecycle

  void start() {
    if (started || stopped) {
      return;
    }
    started = true;
    sub->connect();
    pub->connect();
    uv_timer_start(&health->timer, on_health, k_health_interval_ms, k_health_interval_ms);
  }

  // ------------------------------------------------------------------ liveness

  static void on_health(uv_timer_t* t) noexcept {
    impl* self = static_cast<retry*>(t->data)->owner;
    if (self->stopped) {
      return;
    }
    redisAsyncContext* ctx = self->pub->context();
    if (ctx == nullptr) {
      self->ping_outstanding = false;
      return;
    }
    const uint64_t now = uv_now(self->loop);
    const bool late = self->last_tick_ms != 0 && now - self->last_tick_ms > 2 * k_health_interval_ms;
    self->last_tick_ms = now;
    if (self->ping_outstanding && late) {
      self->ping_sent_ms = now;
      return;
    }
    if (self->ping_outstanding) {
      if (now - self->ping_sent_ms >= self->stall_ms) self->on_stall(now - self->ping_sent_ms);
      return;
    }
    if (redisAsyncCommand(ctx, on_pong, self, "PING") == REDIS_OK) {
      self->ping_outstanding = true;
      self->ping_sent_ms = now;
    }
  }

  static void on_pong(redisAsyncContext*, void*, void* privdata) noexcept {
    static_cast<impl*>(privdata)->ping_outstanding = false;
  }

  void on_stall(uint64_t silent_ms) {
    const std::string why = fmt::format("no reply from Redis for {} ms", silent_ms);
    ping_outstanding = false;
    // disconnect() does not call back, so report both links down ourselves.
    pub->disconnect();
    sub->disconnect();
    on_link_down(*pub, why);
    on_link_down(*sub, why);
  }

  void stop() {
    if (stopped) {
      return;
    }
    stopped = true;
    close_retry(sub_retry);
    close_retry(pub_retry);
    close_retry(health);
    // Neither link calls back on a disconnect we ask for; pending PUBLISH callbacks run now
    // with no reply and only touch `unanswered`.
    sub->disconnect();
    pub->disconnect();
    was_up = false;
    if (stats != nullptr) {
      stats->bus_up.store(0, std::memory_order_relaxed);
    }
  }

  bool up() const { return !stopped && sub->ready() && pub->ready(); }

  void update_up() {
    const bool now = up();
    if (now == was_up) {
      return;
    }
    was_up = now;
    if (stats != nullptr) {
      stats->bus_up.store(now ? 1 : 0, std::memory_order_relaxed);
    }
    if (now) {
      if (in_outage) {
        log::info("redis bus: {} {} after {} ms ({} reconnect attempts)",
                  ever_up ? "reachable again at" : "connected to", where,
                  uv_now(loop) - outage_since_ms, outage_attempts);
        in_outage = false;
      } else if (!ever_up) {
        log::info("redis bus: connected to {} (uid {})", where, uid);
      }
      ever_up = true;
    }
    if (cb.on_state) {
      cb.on_state(now);
    }
  }

  void on_link_ready(redis_link& link) {
    if (stopped) {
      return;
    }
    retry_of(link)->backoff_ms = k_initial_backoff_ms;
    if (&link == sub.get()) {
      resubscribe_all();
    }
    update_up();
  }

  void on_link_down(redis_link& link, const std::string& why) {
    if (stopped) {
      return;
    }
    if (&link == sub.get()) {
      confirmed.clear();  // a new connection must confirm every room again
    }
    if (!in_outage) {
      // One line per outage; the attempts that follow are debug-level until Redis is back.
      in_outage = true;
      outage_since_ms = uv_now(loop);
      outage_attempts = 0;
      log::warn("redis bus: {} ({}); local delivery goes on, reconnecting with backoff up to {} ms",
                ever_up ? "lost Redis" : "cannot reach Redis", why, reconnect_max_ms);
    } else {
      log::debug("redis bus: still down: {}", why);
    }
    update_up();
    schedule_reconnect(link);
  }

  void schedule_reconnect(redis_link& link) {
    retry* r = retry_of(link);
    if (r == nullptr) {
      return;
    }
    const uint32_t base = std::min(r->backoff_ms, reconnect_max_ms);
    // Jitter takes up to a quarter off, so workers that lost Redis together spread out.
    const uint32_t delay = base - static_cast<uint32_t>(rng() % (base / 4 + 1));
    r->backoff_ms = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{base} * 2, reconnect_max_ms));
    uv_timer_start(&r->timer, on_retry, delay, 0);
  }

  static void on_retry(uv_timer_t* t) noexcept {
    auto* r = static_cast<retry*>(t->data);
    impl* self = r->owner;
    if (self->stopped) {
      return;
    }
    self->count(&worker_stats::bus_reconnects_total);
    ++self->outage_attempts;
    r->link->connect();
  }

  // ------------------------------------------------------------------ subscriber

  void send_channels(const char* command, const std::vector<std::string>& channels) {
    redisAsyncContext* ctx = sub->context();
    if (ctx == nullptr || channels.empty()) {
      return;
    }
    for (size_t at = 0; at < channels.size(); at += k_subscribe_batch) {
      const size_t n = std::min(k_subscribe_batch, channels.size() - at);
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      argv.reserve(n + 1);
      lens.reserve(n + 1);
      argv.push_back(command);
      lens.push_back(std::strlen(command));
      for (size_t i = at; i < at + n; ++i) {
        argv.push_back(channels[i].data());
        lens.push_back(channels[i].size());
      }
      // Every channel of a SUBSCRIBE gets the same callback; UNSUBSCRIBE takes none (hiredis
      // routes its confirmations to the channel's callback).
      if (redisAsyncCommandArgv(ctx, on_subscriber_reply, this, static_cast<int>(argv.size()),
                                argv.data(), lens.data()) != REDIS_OK) {
        log::warn("redis bus: {} not sent", command);
      }
    }
  }

  void resubscribe_all() {
    std::vector<std::string> channels;
    channels.reserve(rooms.size() + 1);
    channels.push_back(base_channel);
    for (const auto& [room, members] : rooms) {
      channels.push_back(wire::room_channel(prefix, k_nsp, room));
    }
    send_channels("SUBSCRIBE", channels);
  }

  void subscribe_room(std::string_view room) {
    auto [it, fresh] = rooms.try_emplace(std::string(room), 0);
    if (++it->second == 1 && !stopped) {
      send_channels("SUBSCRIBE", {wire::room_channel(prefix, k_nsp, room)});
    }
  }

  void unsubscribe_room(std::string_view room) {
    auto it = rooms.find(std::string(room));
    if (it == rooms.end()) {
      log::debug("redis bus: unsubscribe_room({}) without a subscription", room);
      return;
    }
    if (--it->second == 0) {
      confirmed.erase(it->first);
      rooms.erase(it);
      if (!stopped) {
        send_channels("UNSUBSCRIBE", {wire::room_channel(prefix, k_nsp, room)});
      }
    }
  }

  static void on_subscriber_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
    auto* self = static_cast<impl*>(privdata);
    auto* reply = static_cast<redisReply*>(r);
    if (reply == nullptr || self->stopped) {
      return;  // the context is going away
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      self->publish_error_log(uv_now(self->loop), [&](uint64_t suppressed) {
        log::warn("redis bus: subscriber error: {} ({} more suppressed)",
                  std::string_view(reply->str, reply->len), suppressed);
      });
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
      return;
    }
    const redisReply* kind = reply->element[0];
    const redisReply* channel = reply->element[1];
    const redisReply* payload = reply->element[2];
    if (kind->type == REDIS_REPLY_STRING && channel->type == REDIS_REPLY_STRING &&
        std::string_view(kind->str, kind->len) == "subscribe") {
      self->on_subscribed(std::string_view(channel->str, channel->len));
      return;
    }
    if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message" ||
        channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) {
      return;  // unsubscribe confirmations
    }
    self->on_message(std::string_view(channel->str, channel->len),
                     std::string_view(payload->str, payload->len));
  }

  void on_subscribed(std::string_view channel) {
    auto room = wire::room_of_channel(channel, prefix, k_nsp);
    if (!room || room->empty() || rooms.find(*room) == rooms.end()) {
      return;
    }
    confirmed.insert(*room);
    if (cb.on_room_ready) {
      cb.on_room_ready(*room);
    }
  }

  bool room_pending(std::string_view room) const {
    return up() && confirmed.find(std::string(room)) == confirmed.end();
  }

  void on_message(std::string_view channel, std::string_view payload) {
    // The adapter's onmessage order: channel ours, room known (before decoding), uid, nsp.
    auto room = wire::room_of_channel(channel, prefix, k_nsp);
    if (!room) {
      return;
    }
    if (!room->empty() && rooms.find(*room) == rooms.end()) {
      return;  // unsubscribed while the message was in flight
    }
    auto b = wire::decode_broadcast(payload);
    if (!b) {
      bad_message_log(uv_now(loop), [&](uint64_t suppressed) {
        log::warn("redis bus: dropped a message on {}: {} ({} more suppressed)", channel,
                  b.error(), suppressed);
      });
      return;
    }
    if (b->uid == uid || b->nsp != k_nsp) {
      return;
    }
    count(&worker_stats::bus_received_total);
    if (cb.on_broadcast) {
      cb.on_broadcast(*b);
    }
  }

  // ------------------------------------------------------------------ publisher

  bool drop() {
    count(&worker_stats::bus_publish_dropped_total);
    return false;
  }

  bool publish(wire::broadcast b) {
    redisAsyncContext* ctx = stopped ? nullptr : pub->context();
    if (ctx == nullptr) {
      return drop();
    }
    b.uid = uid;
    auto bytes = wire::encode_broadcast(b);
    if (!bytes) {
      publish_error_log(uv_now(loop), [&](uint64_t suppressed) {
        log::warn("redis bus: cannot encode a broadcast: {} ({} more suppressed)", bytes.error(),
                  suppressed);
      });
      return drop();
    }
    const size_t unsent = ctx->c.obuf != nullptr ? sdslen(ctx->c.obuf) : 0;
    if (unanswered >= k_max_unanswered || unsent + bytes->size() > k_max_output_bytes) {
      if (!over_cap) {
        over_cap = true;
        log::warn("redis bus: Redis is not keeping up ({} replies outstanding, {} bytes unsent); "
                  "dropping publishes until it does",
                  unanswered, unsent);
      }
      return drop();
    }
    if (over_cap) {
      over_cap = false;
      log::info("redis bus: Redis keeps up again; publishing resumed");
    }
    const std::string channel =
        b.rooms.size() == 1 ? wire::room_channel(prefix, k_nsp, b.rooms.front()) : base_channel;
    const char* argv[] = {"PUBLISH", channel.data(), bytes->data()};
    const size_t lens[] = {7, channel.size(), bytes->size()};
    if (redisAsyncCommandArgv(ctx, on_publish_reply, this, 3, argv, lens) != REDIS_OK) {
      return drop();
    }
    ++unanswered;
    count(&worker_stats::bus_published_total);
    return true;
  }

  static void on_publish_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
    auto* self = static_cast<impl*>(privdata);
    if (self->unanswered > 0) {
      --self->unanswered;
    }
    auto* reply = static_cast<redisReply*>(r);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
      self->publish_error_log(uv_now(self->loop), [&](uint64_t suppressed) {
        log::warn("redis bus: PUBLISH refused: {} ({} more suppressed)",
                  std::string_view(reply->str, reply->len), suppressed);
      });
    }
  }
};

bus::bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats, callbacks cb)
    : impl_(std::make_unique<impl>(loop, cfg, uid, stats, std::move(cb))), uid_(std::move(uid)) {}

bus::~bus() = default;

void bus::start() { impl_->start(); }
void bus::stop() { impl_->stop(); }
bool bus::up() const { return impl_->up(); }
void bus::subscribe_room(std::string_view room) { impl_->subscribe_room(room); }
void bus::unsubscribe_room(std::string_view room) { impl_->unsubscribe_room(room); }
bool bus::room_pending(std::string_view room) const { return impl_->room_pending(room); }
bool bus::publish(wire::broadcast b) { return impl_->publish(std::move(b)); }
void bus::flush() {
  if (!impl_->stopped) impl_->pub->flush();
}

}  // namespace chatd
