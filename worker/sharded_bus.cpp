// The bus of one worker on Redis Cluster (see sharded_bus.h).

#include "worker/sharded_bus.h"

#include "common/log.h"
#include "common/sharded_requests.h"
#include "worker/bus_common.h"

#include <vector>

namespace chatd {

namespace sw = wire::sharded;

sharded_bus::sharded_bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats,
                         callbacks cb)
    : loop_(loop),
      cfg_(cfg),
      uid_(std::move(uid)),
      stats_(stats),
      cb_(std::move(cb)),
      ns_channel_(sw::namespace_channel(cfg.redis_key, k_bus_nsp)),
      response_channel_(sw::response_channel(cfg.redis_key, k_bus_nsp, uid_)),
      heartbeat_(loop, this),
      ps_(loop, cfg, fmt::format("worker {}", uid_), stats,
          {[this](std::string_view channel, std::string_view payload) { on_message(channel, payload); },
           [this](std::string_view channel) { on_subscribed(channel); },
           [this](bool) { update_up(); },
           [this] { on_shards_changed(); }}) {}

sharded_bus::~sharded_bus() { stop(); }

void sharded_bus::start() {
  if (started_ || stopped_) return;
  started_ = true;
  // The namespace channel carries broadcasts to several rooms and every request; each worker
  // subscribed there counts in PUBSUB SHARDNUMSUB, which is how a requester knows how many
  // answers to wait for (serverCount()).
  ps_.subscribe(ns_channel_);
  ps_.subscribe(response_channel_);
  ps_.start();
  heartbeat_.start(&sharded_bus::on_heartbeat, k_heartbeat_ms, k_heartbeat_ms);
}

void sharded_bus::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_ && up_) {
    send_control(sw::message_type::adapter_close);
    ps_.flush();
  }
  heartbeat_.close();
  ps_.stop();
  up_ = false;
}

// --- rooms -------------------------------------------------------------------------------------

void sharded_bus::subscribe_room(std::string_view room) {
  // Socket-id rooms take the namespace channel ("dynamic" mode), as Node publishes to them.
  if (sw::looks_like_socket_id(room)) return;
  const std::string channel = sw::room_channel(cfg_.redis_key, k_bus_nsp, room);
  ps_.subscribe(channel);
  if (!ps_.confirmed(channel)) unconfirmed_.emplace(room);
}

void sharded_bus::unsubscribe_room(std::string_view room) {
  if (sw::looks_like_socket_id(room)) return;
  const std::string channel = sw::room_channel(cfg_.redis_key, k_bus_nsp, room);
  ps_.unsubscribe(channel);
  if (!ps_.confirmed(channel)) {
    if (auto it = unconfirmed_.find(room); it != unconfirmed_.end()) unconfirmed_.erase(it);
  }
}

bool sharded_bus::room_pending(std::string_view room) const {
  if (sw::looks_like_socket_id(room)) return false;
  const std::string channel = sw::room_channel(cfg_.redis_key, k_bus_nsp, room);
  // A room whose shard is down is degraded, not pending: nothing would release a wait for it.
  return ps_.channel_up(channel) && !ps_.confirmed(channel);
}

void sharded_bus::on_subscribed(std::string_view channel) {
  if (channel == ns_channel_ || channel == response_channel_) return update_up();
  if (!cb_.on_room_ready) return;
  // "<key>#/#<room>#": everything between the namespace channel and the final '#'.
  if (channel.size() <= ns_channel_.size() || !channel.starts_with(ns_channel_) ||
      channel.back() != '#' || channel == response_channel_) {
    return;
  }
  const std::string_view room =
      channel.substr(ns_channel_.size(), channel.size() - ns_channel_.size() - 1);
  if (auto it = unconfirmed_.find(room); it != unconfirmed_.end()) unconfirmed_.erase(it);
  cb_.on_room_ready(room);
}

void sharded_bus::release_degraded() {
  std::vector<std::string> released;
  for (const std::string& room : unconfirmed_) {
    if (!room_pending(room)) released.push_back(room);
  }
  for (const std::string& room : released) {
    unconfirmed_.erase(room);
    if (cb_.on_room_ready) cb_.on_room_ready(room);
  }
}

void sharded_bus::update_up() {
  const bool now = !stopped_ && ps_.up() && ps_.confirmed(ns_channel_) &&
                   ps_.confirmed(response_channel_);
  if (now == up_) return;
  up_ = now;
  if (up_) {
    send_control(sw::message_type::initial_heartbeat);
  }
  if (cb_.on_state) cb_.on_state(up_);
}

// --- publishing ----------------------------------------------------------------------------------

bool sharded_bus::publish_message(const std::string& channel, const sw::message& m) {
  expected<std::string> bytes = sw::encode(m);
  if (!bytes) {
    encode_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: could not encode a message of type {}: {} ({} more suppressed)",
                static_cast<int>(m.type), bytes.error(), suppressed);
    });
    return false;
  }
  return ps_.publish(channel, *bytes);
}

bool sharded_bus::publish(wire::broadcast b) {
  b.uid = uid_;
  sw::message m;
  m.uid = uid_;
  m.type = sw::message_type::broadcast;
  m.packet = std::move(b);
  const std::string channel = sw::publish_channel(cfg_.redis_key, m);
  if (!publish_message(channel, m)) {
    bus_count(stats_, &worker_stats::bus_publish_dropped_total);
    return false;
  }
  bus_count(stats_, &worker_stats::bus_published_total);
  return true;
}

void sharded_bus::send_control(sw::message_type type) {
  sw::message m;
  m.uid = uid_;
  m.type = type;
  publish_message(ns_channel_, m);
}

void sharded_bus::on_heartbeat(uv_timer_t* t) noexcept {
  auto* self = static_cast<sharded_bus*>(t->data);
  if (self->up_) self->send_control(sw::message_type::heartbeat);
}

void sharded_bus::on_shards_changed() {
  update_up();
  if (!unconfirmed_.empty()) release_degraded();
}

// --- receiving -----------------------------------------------------------------------------------

void sharded_bus::bad_message(std::string_view channel, std::string_view why) {
  bus_count(stats_, &worker_stats::bus_bad_messages_total);
  bad_log_(uv_now(loop_), [&](uint64_t suppressed) {
    log::warn("redis bus: dropped a message on {}: {} ({} more suppressed)", channel, why,
              suppressed);
  });
}

void sharded_bus::on_message(std::string_view channel, std::string_view payload) {
  if (stopped_) return;
  expected<sw::message> m = sw::decode(payload);
  if (!m) return bad_message(channel, m.error());
  // ClusterAdapter.onMessage's order: its own uid, then the namespace.
  if (m->uid == uid_ || m->nsp != k_bus_nsp) return;
  if (channel == response_channel_) {
    if (auto r = sw::to_response(*m); r && on_response_) on_response_(*r);
    return;
  }
  switch (m->type) {
    case sw::message_type::broadcast:
      if (!m->request_id) {
        bus_count(stats_, &worker_stats::bus_received_total);
        m->packet.uid = m->uid;
        if (cb_.on_broadcast) cb_.on_broadcast(m->packet);
        return;
      }
      break;
    case sw::message_type::initial_heartbeat:
      send_control(sw::message_type::heartbeat);
      return;
    case sw::message_type::heartbeat:
    case sw::message_type::adapter_close:
      return;
    default:
      break;
  }
  if (auto r = sw::to_request(*m)) {
    if (on_request_) on_request_(*r);
  } else if (auto r = sw::to_response(*m)) {
    // ClusterAdapter accepts answers on the namespace channel too.
    if (on_response_) on_response_(*r);
  }
}

// --- adapter_wire --------------------------------------------------------------------------------

void sharded_bus::serve(request_handler on_request, response_handler on_response) {
  on_request_ = std::move(on_request);
  on_response_ = std::move(on_response);
}

bool sharded_bus::respond(std::string_view requester_uid, wire::request_type asked,
                          const wire::bus_response& answer) {
  std::optional<sw::message> m = sw::answer_message(uid_, asked, answer);
  if (!m || requester_uid.empty()) return false;
  return publish_message(sw::response_channel(cfg_.redis_key, k_bus_nsp, requester_uid), *m);
}

bool sharded_bus::request(const wire::bus_request& r) {
  std::optional<sw::message> m = sw::request_message(r);
  if (!m) return false;
  m->uid = uid_;
  return publish_message(ns_channel_, *m);
}

void sharded_bus::count_nodes(count_handler done) {
  ps_.shardnumsub(ns_channel_, [done = std::move(done)](long long n) {
    done(n < 0 ? std::nullopt : std::optional<long long>(n));
  });
}

redis_commander sharded_bus::commander() {
  return [this](std::string_view key, std::initializer_list<std::string_view> args,
                redis_reply_handler done) {
    ps_.command(key, std::vector<std::string>(args.begin(), args.end()), std::move(done));
  };
}

}  // namespace chatd
