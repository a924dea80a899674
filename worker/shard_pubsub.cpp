// Sharded pub/sub and key-routed commands on a Redis Cluster (see shard_pubsub.h).

#include "worker/shard_pubsub.h"

#include "common/log.h"
#include "worker/bus_common.h"

#include <algorithm>
#include <array>
#include <chrono>

namespace chatd {
namespace {

constexpr uint32_t k_initial_backoff_ms = 100;
// A PING may wait this long (or the connect timeout, if longer) before the shard counts as
// stalled: as bus_liveness, above a busy Redis' worst pause, below a user's patience.
constexpr uint64_t k_min_stall_ms = 5000;
// Arguments passed to resp_link without a heap array.
constexpr size_t k_inline_args = 16;

std::string_view text_of(const redisReply* r) { return {r->str, r->len}; }

}  // namespace

// ------------------------------------------------------------------ the pieces

struct shard_pubsub::op {
  std::vector<std::string> argv;
  std::string key;         // routes it while no redirection names a node
  reply_handler done;      // empty for a publish
  int redirects = 0;
  bool asking = false;     // send ASKING first (an ASK redirection)
  std::string target_host; // set by a redirection
  uint16_t target_port = 0;
  std::string sent_host;   // where it went last: a MOVED with an empty host means there
};

struct shard_pubsub::shard {
  struct retry {
    shard* s;
    bool sub;
  };

  shard(shard_pubsub* owner, redis_endpoint e, std::string addr)
      : self(owner),
        endpoint(std::move(e)),
        address(std::move(addr)),
        sub_timer(owner->loop_, &sub_retry),
        pub_timer(owner->loop_, &pub_retry) {}
  ~shard() {
    // The links first: their pending handlers (called with nullptr) may look at nothing else.
    sub.reset();
    pub.reset();
  }

  shard_pubsub* self;
  redis_endpoint endpoint;
  std::string address;  // "host:port", the key in shards_
  retry sub_retry{this, true};
  retry pub_retry{this, false};
  owned_timer sub_timer;
  owned_timer pub_timer;
  uint32_t sub_backoff_ms = k_initial_backoff_ms;
  uint32_t pub_backoff_ms = k_initial_backoff_ms;
  bool sub_ever_ready = false;
  bool pub_ever_ready = false;
  bool in_outage = false;
  uint64_t outage_since_ms = 0;
  uint64_t outage_attempts = 0;
  bool ping_outstanding = false;
  uint64_t ping_sent_ms = 0;
  uint64_t ping_sent_ns = 0;  // uv_hrtime() at the PING, for its round trip; 0: not measurable
  std::vector<std::shared_ptr<op>> parked;  // waiting for the first connect
  std::unique_ptr<resp_link> sub;
  std::unique_ptr<resp_link> pub;

  bool up() const { return sub->ready() && pub->ready(); }
};

shard_pubsub::shard_pubsub(uv_loop_t* loop, const config& cfg, std::string name,
                           worker_stats* stats, callbacks cb)
    : loop_(loop),
      connect_timeout_ms_(cfg.redis_connect_timeout_ms),
      reconnect_max_ms_(std::max(cfg.redis_reconnect_max_ms, k_initial_backoff_ms)),
      stall_ms_(std::max<uint64_t>(k_min_stall_ms, cfg.redis_connect_timeout_ms)),
      name_(std::move(name)),
      stats_(stats),
      cb_(std::move(cb)),
      topology_(loop, cfg, name_,
                cluster_topology::callbacks{
                    [this](const cluster_map& m, bool changed) { on_map(m, changed); }, nullptr}),
      health_(loop, this),
      // Seeded per worker and per start, so workers that lost a shard together retry apart.
      rng_(static_cast<uint32_t>(
          std::hash<std::string>{}(name_) ^
          static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count()))) {}

shard_pubsub::~shard_pubsub() { stop(); }

void shard_pubsub::start() {
  if (started_ || stopped_) {
    return;
  }
  started_ = true;
  topology_.start();
  health_.start(on_health, k_health_interval_ms, k_health_interval_ms);
}

void shard_pubsub::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  was_up_ = false;
  topology_.stop();
  health_.close();
  std::vector<std::shared_ptr<op>> parked;
  for (auto& [address, s] : shards_) {
    std::move(s->parked.begin(), s->parked.end(), std::back_inserter(parked));
    s->parked.clear();
  }
  auto shards = std::move(shards_);
  shards_.clear();
  channels_.clear();
  shards.clear();  // pending command handlers get nullptr here
  for (const auto& o : parked) {
    fail_op(o);
  }
}

// ------------------------------------------------------------------ state

bool shard_pubsub::up() const {
  if (stopped_ || topology_.current() == nullptr) {
    return false;
  }
  if (shards_.empty()) {
    return true;  // nothing needed yet: nothing degraded
  }
  return shards_up() > 0;
}

size_t shard_pubsub::shards_up() const {
  size_t n = 0;
  for (const auto& [address, s] : shards_) {
    n += s->up() ? 1 : 0;
  }
  return n;
}

bool shard_pubsub::channel_up(std::string_view channel) const {
  if (stopped_) {
    return false;
  }
  std::string owner;
  if (auto it = channels_.find(channel); it != channels_.end() && !it->second.owner.empty()) {
    owner = it->second.owner;
  } else {
    owner = owner_by_map(channel);
  }
  if (owner.empty()) {
    return false;  // no map yet, or the slot has no master
  }
  const shard* s = find_shard(owner);
  // Not used yet, or connecting for the first time: nothing is known to be wrong, and a publish
  // is accepted (it waits for the links).
  return s == nullptr || s->up() || (!s->in_outage && !s->pub_ever_ready);
}

bool shard_pubsub::confirmed(std::string_view channel) const {
  auto it = channels_.find(channel);
  return it != channels_.end() && it->second.confirmed;
}

void shard_pubsub::update_state() {
  if (stopped_) {
    return;
  }
  const bool now = up();
  if (now != was_up_) {
    was_up_ = now;
    if (cb_.on_state) {
      cb_.on_state(now);
    }
  }
  if (!stopped_ && cb_.on_shards_changed) {
    cb_.on_shards_changed();
  }
}

void shard_pubsub::update_refreshing() {
  bool any_down = false;
  for (const auto& [address, s] : shards_) {
    any_down = any_down || s->in_outage;
  }
  topology_.keep_refreshing(any_down);
}

// ------------------------------------------------------------------ shards

shard_pubsub::shard* shard_pubsub::find_shard(std::string_view address) const {
  auto it = shards_.find(address);
  return it == shards_.end() ? nullptr : it->second.get();
}

std::string shard_pubsub::owner_by_map(std::string_view channel) const {
  const cluster_map* m = topology_.current();
  const cluster_shard* cs = m == nullptr ? nullptr : m->shard_for_key(channel);
  return cs == nullptr ? std::string() : cs->master.address();
}

shard_pubsub::shard& shard_pubsub::ensure_shard(const std::string& host, uint16_t port) {
  std::string address = cluster_node{host, port, {}}.address();
  if (shard* s = find_shard(address)) {
    return *s;
  }
  auto owned = std::make_unique<shard>(this, topology_.endpoint_of(host, port), address);
  shard* s = owned.get();
  s->sub = std::make_unique<resp_link>(
      loop_, s->endpoint, connect_timeout_ms_, "shard subscriber",
      resp_link::callbacks{[this, s] { on_link_ready(*s, true); },
                           [this, s](const std::string& why) { on_link_down(*s, true, why); },
                           [this, s](const resp_link::push& p) { on_push(*s, p); }});
  s->pub = std::make_unique<resp_link>(
      loop_, s->endpoint, connect_timeout_ms_, "shard publisher",
      resp_link::callbacks{[this, s] { on_link_ready(*s, false); },
                           [this, s](const std::string& why) { on_link_down(*s, false, why); },
                           nullptr});
  shards_.emplace(std::move(address), std::move(owned));
  s->sub->connect();
  s->pub->connect();
  return *s;
}

void shard_pubsub::on_link_ready(shard& s, bool sub) {
  if (stopped_) {
    return;
  }
  (sub ? s.sub_backoff_ms : s.pub_backoff_ms) = k_initial_backoff_ms;
  if (s.up() && s.in_outage) {
    log::info("{}: cluster shard {} reachable again after {} ms ({} reconnect attempts)", name_,
              s.address, uv_now(loop_) - s.outage_since_ms, s.outage_attempts);
    s.in_outage = false;
  }
  std::vector<std::shared_ptr<op>> parked;
  if (sub) {
    s.sub_ever_ready = true;
    for (auto& [channel, st] : channels_) {
      if (st.owner == s.address && !st.sent) {
        send_subscribe(s, channel, st);
      }
    }
  } else {
    s.pub_ever_ready = true;
    s.ping_outstanding = false;
    parked = std::move(s.parked);
    s.parked.clear();
  }
  update_refreshing();
  // From here `s` may go: a failed op's handler may stop() us.
  for (const auto& o : parked) {
    if (stopped_ || !send_op(o)) {
      fail_op(o);
    }
  }
  update_state();
}

void shard_pubsub::on_link_down(shard& s, bool sub, const std::string& why) {
  if (stopped_) {
    return;
  }
  std::vector<std::shared_ptr<op>> parked;
  if (sub) {
    for (auto& [channel, st] : channels_) {
      if (st.owner == s.address) {
        st.sent = false;
        st.confirmed = false;
      }
    }
  } else {
    s.ping_outstanding = false;
    parked = std::move(s.parked);  // the first connect failed: do not hold them longer
    s.parked.clear();
  }
  const bool first_loss = !s.in_outage;
  if (first_loss) {
    // One line per shard outage; the attempts that follow are debug-level until it is back.
    s.in_outage = true;
    s.outage_since_ms = uv_now(loop_);
    s.outage_attempts = 0;
    log::warn("{}: cluster shard {} {} ({}); its channels are down, reconnecting with backoff up "
              "to {} ms",
              name_, s.address, s.sub_ever_ready || s.pub_ever_ready ? "lost" : "unreachable",
              why, reconnect_max_ms_);
  } else {
    log::debug("{}: cluster shard {} still down: {}", name_, s.address, why);
  }
  schedule_reconnect(s, sub);
  if (first_loss) {
    topology_.refresh("a shard link was lost");  // later attempts: the periodic refresh
  }
  update_refreshing();
  for (const auto& o : parked) {
    fail_op(o);
  }
  update_state();
}

void shard_pubsub::schedule_reconnect(shard& s, bool sub) {
  uint32_t& backoff = sub ? s.sub_backoff_ms : s.pub_backoff_ms;
  const uint32_t base = std::min(backoff, reconnect_max_ms_);
  // Jitter takes up to a quarter off, so workers that lost the shard together spread out.
  const uint32_t delay = base - static_cast<uint32_t>(rng_() % (base / 4 + 1));
  backoff = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{base} * 2, reconnect_max_ms_));
  (sub ? s.sub_timer : s.pub_timer)
      .start(
          [](uv_timer_t* t) noexcept {
            auto* r = static_cast<shard::retry*>(t->data);
            shard_pubsub* self = r->s->self;
            if (self->stopped_) {
              return;
            }
            bus_count(self->stats_, &worker_stats::bus_reconnects_total);
            ++r->s->outage_attempts;
            (r->sub ? r->s->sub : r->s->pub)->connect();
          },
          delay, 0);
}

// A shard whose node is no longer a master: its channels are placed again, its waiting ops
// routed again.
void shard_pubsub::retire(const std::string& address) {
  auto it = shards_.find(address);
  if (it == shards_.end()) {
    return;
  }
  log::info("{}: cluster node {} no longer serves slots as a master: its links are dropped",
            name_, address);
  for (auto& [channel, st] : channels_) {
    if (st.owner == address) {
      st.owner.clear();
      st.sent = false;
      st.confirmed = false;
    }
  }
  std::vector<std::shared_ptr<op>> parked = std::move(it->second->parked);
  shards_.erase(it);
  for (const auto& o : parked) {
    o->target_port = 0;
    if (stopped_ || !send_op(o)) {
      fail_op(o);
    }
  }
}

void shard_pubsub::on_map(const cluster_map& m, bool changed) {
  if (stopped_) {
    return;
  }
  {
    // Every update, not only a changed one: a shard made for a MOVED target the map does not
    // confirm as a master goes too.
    std::vector<std::string> gone;
    for (const auto& [address, s] : shards_) {
      bool master = false;
      for (const cluster_shard& cs : m.shards) {
        master = master || cs.master.address() == address;
      }
      if (!master) {
        gone.push_back(address);
      }
    }
    for (const std::string& address : gone) {
      retire(address);
      if (stopped_) {
        return;
      }
    }
  }
  for (auto& [channel, st] : channels_) {
    if (st.owner.empty()) {
      place(channel, st);
    } else if (changed && st.owner != owner_by_map(channel)) {
      shard* old = find_shard(st.owner);
      if (old != nullptr && st.sent && old->sub->ready()) {
        old->sub->command({"SUNSUBSCRIBE", channel}, nullptr);  // best effort: it may have moved
      }
      place(channel, st);
    } else if (!st.sent) {
      shard* s = find_shard(st.owner);
      if (s != nullptr && s->sub->ready()) {
        send_subscribe(*s, channel, st);
      }
    }
  }
  update_refreshing();
  update_state();
}

// ------------------------------------------------------------------ channels

void shard_pubsub::subscribe(std::string_view channel) {
  if (stopped_) {
    return;
  }
  if (auto it = channels_.find(channel); it != channels_.end()) {
    ++it->second.refs;
    return;
  }
  auto [it, inserted] = channels_.emplace(std::string(channel), channel_state{});
  it->second.refs = 1;
  place(it->first, it->second);
}

void shard_pubsub::unsubscribe(std::string_view channel) {
  auto it = channels_.find(channel);
  if (stopped_ || it == channels_.end() || --it->second.refs > 0) {
    return;
  }
  shard* s = it->second.owner.empty() ? nullptr : find_shard(it->second.owner);
  if (s != nullptr && it->second.sent && s->sub->ready()) {
    s->sub->command({"SUNSUBSCRIBE", channel}, nullptr);
  }
  channels_.erase(it);
}

// Puts the channel on the shard the map says owns its slot (none while the map is unknown or
// the slot unserved: the next map places it).
void shard_pubsub::place(const std::string& channel, channel_state& st) {
  st.owner.clear();
  st.sent = false;
  st.confirmed = false;
  const cluster_map* m = topology_.current();
  const cluster_shard* cs = m == nullptr ? nullptr : m->shard_for_key(channel);
  if (cs == nullptr) {
    if (m != nullptr) {
      topology_.refresh("a channel's slot has no shard");
    }
    return;
  }
  shard& s = ensure_shard(cs->master.host, cs->master.port);
  st.owner = s.address;
  if (s.sub->ready()) {
    send_subscribe(s, channel, st);
  }
}

void shard_pubsub::send_subscribe(shard& s, const std::string& channel, channel_state& st) {
  st.seq = ++next_seq_;
  st.confirmed = false;
  st.sent = s.sub->command({"SSUBSCRIBE", channel},
                           [this, channel, seq = st.seq, host = s.endpoint.host](
                               const redisReply* r) { on_subscribe_reply(channel, seq, host, r); });
}

void shard_pubsub::on_subscribe_reply(const std::string& channel, uint64_t seq,
                                      const std::string& host, const redisReply* r) {
  if (r == nullptr || stopped_) {
    return;  // the link was lost: on_link_down unconfirmed it, the next connect resubscribes
  }
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.seq != seq) {
    return;  // unsubscribed, or subscribed again since
  }
  channel_state& st = it->second;
  if (r->type == REDIS_REPLY_ERROR) {
    st.sent = false;
    topology_.refresh("SSUBSCRIBE refused");
    auto red = parse_redirect(text_of(r));
    if (red && red->kind == redirect_kind::moved) {
      // The node named owns the slot now: subscribe there (the map catches up later).
      shard& s = ensure_shard(red->host.empty() ? host : red->host, red->port);
      st.owner = s.address;
      if (s.sub->ready()) {
        send_subscribe(s, channel, st);
      }
      return;
    }
    error_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("{}: SSUBSCRIBE {} refused: {}; tried again after the next map refresh ({} more "
                "suppressed)",
                name_, channel, text_of(r), suppressed);
    });
    return;
  }
  st.confirmed = true;
  if (cb_.on_subscribed) {
    cb_.on_subscribed(channel);
  }
}

void shard_pubsub::on_push(shard& s, const resp_link::push& p) {
  if (stopped_) {
    return;
  }
  if (p.kind == "smessage" || p.kind == "message") {
    if (cb_.on_message && channels_.contains(p.channel)) {
      cb_.on_message(p.channel, p.payload);
    }
    return;
  }
  if (p.kind == "sunsubscribe") {
    // Not one we asked for: Redis drops a slot's shard channels when the slot leaves the node.
    auto it = channels_.find(p.channel);
    if (it == channels_.end() || it->second.owner != s.address) {
      return;
    }
    log::debug("{}: {} unsubscribed shard channel {} (its slot moved); subscribing at the owner",
               name_, s.address, p.channel);
    topology_.refresh("Redis unsubscribed a shard channel");
    // The map may still name this node: it then answers MOVED with the new owner.
    place(it->first, it->second);
    update_state();
  }
}

// ------------------------------------------------------------------ publishes and commands

bool shard_pubsub::send_op(const std::shared_ptr<op>& o) {
  if (stopped_) {
    return false;
  }
  shard* s = nullptr;
  if (o->target_port != 0) {
    s = &ensure_shard(o->target_host, o->target_port);
  } else {
    const cluster_map* m = topology_.current();
    const cluster_shard* cs = m == nullptr ? nullptr : m->shard_for_key(o->key);
    if (cs == nullptr) {
      if (m != nullptr) {
        topology_.refresh("a key's slot has no shard");
      }
      return false;
    }
    s = &ensure_shard(cs->master.host, cs->master.port);
  }
  if (!s->pub->ready()) {
    if (s->pub_ever_ready || s->parked.size() >= k_max_parked) {
      return false;
    }
    s->parked.push_back(o);
    return true;
  }
  o->sent_host = s->endpoint.host;
  if (o->asking) {
    o->asking = false;
    s->pub->command({"ASKING"}, nullptr);
  }
  std::array<std::string_view, k_inline_args> inline_args;
  std::vector<std::string_view> heap_args;
  std::span<const std::string_view> args;
  if (o->argv.size() <= k_inline_args) {
    std::copy(o->argv.begin(), o->argv.end(), inline_args.begin());
    args = std::span<const std::string_view>(inline_args.data(), o->argv.size());
  } else {
    heap_args.assign(o->argv.begin(), o->argv.end());
    args = heap_args;
  }
  return s->pub->command(args, [this, o](const redisReply* r) { on_op_reply(o, r); });
}

void shard_pubsub::fail_op(const std::shared_ptr<op>& o) {
  if (o->done) {
    auto done = std::move(o->done);
    o->done = nullptr;
    done(nullptr);
  }
}

void shard_pubsub::on_op_reply(const std::shared_ptr<op>& o, const redisReply* r) {
  if (r == nullptr || stopped_) {
    fail_op(o);
    return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    auto red = parse_redirect(text_of(r));
    if (red && o->redirects < k_max_redirects) {
      ++o->redirects;
      if (red->kind == redirect_kind::moved) {
        topology_.refresh("MOVED");
      }
      o->target_host = red->host.empty() ? o->sent_host : red->host;
      o->target_port = red->port;
      o->asking = red->kind == redirect_kind::ask;
      if (!send_op(o)) {
        fail_op(o);
      }
      return;
    }
    if (!o->done) {
      error_log_(uv_now(loop_), [&](uint64_t suppressed) {
        log::warn("{}: SPUBLISH refused: {} ({} more suppressed)", name_, text_of(r), suppressed);
      });
      return;
    }
  }
  if (o->done) {
    auto done = std::move(o->done);
    o->done = nullptr;
    done(r);
  }
}

bool shard_pubsub::publish(std::string_view channel, std::string_view bytes) {
  if (stopped_ || topology_.current() == nullptr) {
    return false;
  }
  auto o = std::make_shared<op>();
  o->argv = {"SPUBLISH", std::string(channel), std::string(bytes)};
  o->key = std::string(channel);
  return send_op(o);
}

void shard_pubsub::command(std::string_view key, std::vector<std::string> argv,
                           reply_handler done) {
  auto o = std::make_shared<op>();
  o->argv = std::move(argv);
  o->key = std::string(key);
  o->done = std::move(done);
  if (o->argv.empty() || !send_op(o)) {
    fail_op(o);
  }
}

void shard_pubsub::shardnumsub(std::string_view channel, std::function<void(long long)> done) {
  command(channel, {"PUBSUB", "SHARDNUMSUB", std::string(channel)},
          [done = std::move(done)](const redisReply* r) {
            // [channel, count]
            if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                r->element[1]->type != REDIS_REPLY_INTEGER) {
              done(-1);
              return;
            }
            done(r->element[1]->integer);
          });
}

void shard_pubsub::flush() {
  if (stopped_) {
    return;
  }
  for (auto& [address, s] : shards_) {
    s->pub->flush();
    s->sub->flush();
  }
}

// ------------------------------------------------------------------ stall detection

void shard_pubsub::on_health(uv_timer_t* t) noexcept {
  auto* self = static_cast<shard_pubsub*>(t->data);
  if (self->stopped_) {
    return;
  }
  const uint64_t now = uv_now(self->loop_);
  // A late tick means our own loop was busy: a reply may be sitting unread, start the wait over.
  const bool late =
      self->last_tick_ms_ != 0 && now - self->last_tick_ms_ > 2 * k_health_interval_ms;
  self->last_tick_ms_ = now;
  std::vector<std::string> stalled;
  for (auto& [address, s] : self->shards_) {
    if (!s->pub->ready()) {
      s->ping_outstanding = false;
      continue;
    }
    if (s->ping_outstanding) {
      if (late) {
        s->ping_sent_ms = now;
        s->ping_sent_ns = 0;  // the reply may have waited for our loop
      } else if (now - s->ping_sent_ms >= self->stall_ms_) {
        stalled.push_back(address);
      }
      continue;
    }
    shard* raw = s.get();
    worker_stats* stats = self->stats_;
    auto on_pong = [raw, stats](const redisReply* reply) {
      raw->ping_outstanding = false;
      // Each shard's round trip in the histogram; the gauge holds the last of any shard.
      if (reply != nullptr && raw->ping_sent_ns != 0 && stats != nullptr) {
        const uint64_t rtt = uv_hrtime() - raw->ping_sent_ns;
        stats->redis_last_rtt_ns.store(rtt, std::memory_order_relaxed);
        stats->redis_rtt_ns.observe(k_latency_bounds_ns, rtt);
      }
      raw->ping_sent_ns = 0;
    };
    if (s->pub->command({"PING"}, on_pong)) {
      s->ping_outstanding = true;
      s->ping_sent_ms = now;
      s->ping_sent_ns = uv_hrtime();
    }
  }
  for (const std::string& address : stalled) {
    shard* s = self->find_shard(address);
    if (self->stopped_ || s == nullptr) {
      continue;
    }
    const std::string why = fmt::format("no reply for {} ms", now - s->ping_sent_ms);
    // disconnect() does not call back: report both links down ourselves.
    s->pub->disconnect();
    s->sub->disconnect();
    self->on_link_down(*s, false, why);
    if ((s = self->find_shard(address)) != nullptr) {
      self->on_link_down(*s, true, why);
    }
  }
}

}  // namespace chatd
