// The cluster's slot map for one worker (see cluster_topology.h).

#include "worker/cluster_topology.h"

#include "common/log.h"

#include <algorithm>

namespace chatd {
namespace {

constexpr uint32_t k_initial_backoff_ms = 100;

std::string address_of(const redis_endpoint& e) {
  return cluster_node{e.host, e.port, {}}.address();
}

}  // namespace

cluster_topology::cluster_topology(uv_loop_t* loop, const config& cfg, std::string name,
                                   callbacks cb)
    : loop_(loop),
      seeds_(cfg.redis_seeds.empty() ? std::vector<redis_endpoint>{cfg.redis} : cfg.redis_seeds),
      connect_timeout_ms_(cfg.redis_connect_timeout_ms),
      backoff_max_ms_(std::max(cfg.redis_reconnect_max_ms, k_initial_backoff_ms)),
      name_(std::move(name)),
      cb_(std::move(cb)),
      backoff_ms_(k_initial_backoff_ms),
      delay_(loop, this),
      periodic_(loop, this) {}

cluster_topology::~cluster_topology() { stop(); }

void cluster_topology::start() {
  if (started_ || stopped_) {
    return;
  }
  started_ = true;
  begin_round();
}

void cluster_topology::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  delay_.close();
  periodic_.close();
  ++probe_id_;  // whatever the probe still says is ignored
  probe_.reset();
}

redis_endpoint cluster_topology::endpoint_of(const std::string& host, uint16_t port) const {
  redis_endpoint e;
  e.host = host;
  e.port = port;
  e.password = seeds_.empty() ? std::string() : seeds_.front().password;
  return e;
}

void cluster_topology::refresh(std::string_view why) {
  if (!started_ || stopped_) {
    return;
  }
  if (fetching_) {
    again_ = true;
    return;
  }
  if (scheduled_) {
    return;
  }
  log::debug("{}: cluster map refresh: {}", name_, why);
  const uint64_t since = uv_now(loop_) - last_round_ms_;
  schedule(since >= k_min_interval_ms ? 0 : k_min_interval_ms - since);
}

void cluster_topology::keep_refreshing(bool on) {
  if (on == periodic_on_ || stopped_) {
    return;
  }
  periodic_on_ = on;
  if (on) {
    periodic_.start(on_periodic, k_down_interval_ms, 0);
  }
}

void cluster_topology::on_periodic(uv_timer_t* t) noexcept {
  auto* self = static_cast<cluster_topology*>(t->data);
  if (self->stopped_ || !self->periodic_on_) {
    return;
  }
  self->refresh("a shard is down");
  self->periodic_.start(on_periodic, k_down_interval_ms, 0);
}

void cluster_topology::schedule(uint64_t delay_ms) {
  scheduled_ = true;
  delay_.start(on_delay, delay_ms, 0);
}

void cluster_topology::on_delay(uv_timer_t* t) noexcept {
  auto* self = static_cast<cluster_topology*>(t->data);
  self->scheduled_ = false;
  if (!self->stopped_ && !self->fetching_) {
    self->begin_round();
  }
}

// ------------------------------------------------------------------ one round

void cluster_topology::begin_round() {
  fetching_ = true;
  again_ = false;
  last_round_ms_ = uv_now(loop_);
  candidates_.clear();
  next_ = 0;
  auto add = [&](redis_endpoint e) {
    const std::string a = address_of(e);
    for (const redis_endpoint& c : candidates_) {
      if (address_of(c) == a) {
        return;
      }
    }
    candidates_.push_back(std::move(e));
  };
  // The node that answered last, then the known masters, the seeds, the known replicas.
  if (known_) {
    for (const cluster_shard& s : map_.shards) {
      if (s.master.address() == last_good_) {
        add(endpoint_of(s.master.host, s.master.port));
      }
    }
    for (const cluster_shard& s : map_.shards) {
      add(endpoint_of(s.master.host, s.master.port));
    }
  }
  for (const redis_endpoint& s : seeds_) {
    add(s);
  }
  if (known_) {
    for (const cluster_shard& s : map_.shards) {
      for (const cluster_node& r : s.replicas) {
        add(endpoint_of(r.host, r.port));
      }
    }
  }
  try_next();
}

void cluster_topology::try_next() {
  if (next_ >= candidates_.size()) {
    round_done(false);
    return;
  }
  const uint64_t id = ++probe_id_;
  const redis_endpoint& e = candidates_[next_++];
  probe_ = std::make_unique<resp_link>(
      loop_, e, connect_timeout_ms_, "cluster map",
      resp_link::callbacks{[this, id] { on_probe_ready(id); },
                           [this, id](const std::string& why) { probe_failed(id, why); },
                           nullptr});
  probe_->connect();
}

void cluster_topology::on_probe_ready(uint64_t id) {
  if (id != probe_id_ || stopped_) {
    return;
  }
  if (!probe_->command({"CLUSTER", "SLOTS"},
                       [this, id](const redisReply* r) { on_probe_reply(id, r); })) {
    probe_failed(id, "cannot send CLUSTER SLOTS");
  }
}

void cluster_topology::on_probe_reply(uint64_t id, const redisReply* reply) {
  if (id != probe_id_ || stopped_ || reply == nullptr) {
    return;  // a lost link was reported through on_down
  }
  const std::string host = probe_->endpoint().host;
  const std::string where = probe_->where();
  auto m = parse_cluster_slots(reply, host);
  if (!m) {
    probe_failed(id, m.error());
    return;
  }
  if (m->shards.empty()) {
    probe_failed(id, "no slot is served");
    return;
  }
  ++probe_id_;
  probe_.reset();  // inside its own reply handler: resp_link allows it
  const bool changed = !known_ || !map_.same_routing(*m);
  map_ = std::move(*m);
  known_ = true;
  last_good_ = where;
  if (changed) {
    std::string masters;
    for (const cluster_shard& s : map_.shards) {
      masters += (masters.empty() ? "" : ", ") + s.master.address();
    }
    log::info("{}: cluster map from {}: {} shards (masters {}){}", name_, where,
              map_.shards.size(), masters, map_.complete() ? "" : "; some slots unserved");
  }
  round_done(true);
  if (cb_.on_update && !stopped_) {
    cb_.on_update(map_, changed);
  }
}

void cluster_topology::probe_failed(uint64_t id, const std::string& why) {
  if (id != probe_id_ || stopped_) {
    return;
  }
  last_error_ = why;
  log::debug("{}: cluster map: {}", name_, why);
  ++probe_id_;
  probe_.reset();
  try_next();
}

void cluster_topology::round_done(bool ok) {
  fetching_ = false;
  if (ok) {
    backoff_ms_ = k_initial_backoff_ms;
    if (in_outage_) {
      log::info("{}: cluster map readable again", name_);
      in_outage_ = false;
    }
    if (again_) {
      refresh("asked for during the last round");
    }
    return;
  }
  if (!in_outage_) {
    in_outage_ = true;
    log::warn("{}: cannot read the cluster map from any of {} nodes (last: {}); retrying with "
              "backoff up to {} ms",
              name_, candidates_.size(), last_error_, backoff_max_ms_);
  }
  const uint32_t delay = backoff_ms_;
  backoff_ms_ = std::min<uint32_t>(backoff_ms_ * 2, backoff_max_ms_);
  schedule(delay);
  if (cb_.on_unreachable) {
    cb_.on_unreachable();
  }
}

}  // namespace chatd
