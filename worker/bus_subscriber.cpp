// The bus' subscriber link (see bus_subscriber.h): SUBSCRIBE/UNSUBSCRIBE bookkeeping and the
// dispatch of what arrives.

#include "worker/bus_subscriber.h"

#include "common/assert.h"
#include "common/log.h"
#include "worker/bus_common.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>

namespace chatd {
namespace {

// Channels per SUBSCRIBE command when resubscribing many rooms at once.
constexpr size_t k_subscribe_batch = 512;

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

// The base channel as a glob matching it and every room channel after it.
std::string broadcast_pattern(std::string_view base_channel) {
  std::string out;
  for (char c : base_channel) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  out += '*';
  return out;
}

}  // namespace

bus_subscriber::bus_subscriber(uv_loop_t* loop, redis_link& link, std::string prefix,
                               std::string uid, worker_stats* stats, callbacks cb, bool pattern)
    : loop_(loop),
      link_(link),
      prefix_(std::move(prefix)),
      uid_(std::move(uid)),
      stats_(stats),
      cb_(std::move(cb)),
      base_channel_(wire::broadcast_channel(prefix_, k_bus_nsp)),
      pattern_(pattern),
      pattern_channel_(broadcast_pattern(base_channel_)) {}

// ------------------------------------------------------------------ what we subscribe to

void bus_subscriber::send_channels(const char* command, std::span<const std::string> channels) {
  redisAsyncContext* ctx = stopped_ ? nullptr : link_.context();
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
    for (const std::string& c : channels.subspan(at, n)) {
      argv.push_back(c.data());
      lens.push_back(c.size());
    }
    // Every channel of a SUBSCRIBE gets the same callback; UNSUBSCRIBE takes none (hiredis
    // routes its confirmations to the channel's callback).
    if (redisAsyncCommandArgv(ctx, on_reply, this, static_cast<int>(argv.size()), argv.data(),
                              lens.data()) != REDIS_OK) {
      error_log_(uv_now(loop_), [&](uint64_t suppressed) {
        log::warn("redis bus: {} not sent ({} more suppressed)", command, suppressed);
      });
    }
  }
}

void bus_subscriber::on_ready() {
  std::vector<std::string> channels;
  channels.reserve(1 + fixed_.size() + rooms_.size());
  if (pattern_) {
    send_channels("PSUBSCRIBE", {&pattern_channel_, 1});
  } else {
    channels.push_back(base_channel_);
  }
  for (const fixed_channel& f : fixed_) {
    channels.push_back(f.channel);
  }
  if (!pattern_) {
    for (const auto& [room, members] : rooms_) {
      channels.push_back(wire::room_channel(prefix_, k_bus_nsp, room));
    }
  }
  send_channels("SUBSCRIBE", channels);
}

void bus_subscriber::subscribe_room(std::string_view room) {
  auto [it, fresh] = rooms_.try_emplace(std::string(room), 0);
  if (++it->second == 1 && !pattern_) {
    const std::string channel = wire::room_channel(prefix_, k_bus_nsp, room);
    send_channels("SUBSCRIBE", {&channel, 1});
  }
}

void bus_subscriber::unsubscribe_room(std::string_view room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    log::debug("redis bus: unsubscribe_room({}) without a subscription", room);
    return;
  }
  if (--it->second == 0) {
    confirmed_.erase(it->first);
    rooms_.erase(it);
    if (pattern_) return;
    const std::string channel = wire::room_channel(prefix_, k_bus_nsp, room);
    send_channels("UNSUBSCRIBE", {&channel, 1});
  }
}

void bus_subscriber::subscribe_fixed(std::string channel, raw_handler handler) {
  CHATD_ASSERT(!in_fixed_handler_, "subscribe_fixed from inside a fixed channel's handler");
  CHATD_ASSERT(!wire::room_of_channel(channel, prefix_, k_bus_nsp),
               "a fixed channel may not be a broadcast channel");
  for (fixed_channel& f : fixed_) {
    if (f.channel == channel) {
      f.handler = std::move(handler);
      return;
    }
  }
  fixed_.push_back({std::move(channel), std::move(handler)});
  send_channels("SUBSCRIBE", {&fixed_.back().channel, 1});
}

// ------------------------------------------------------------------ what arrives

void bus_subscriber::on_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
  auto* self = static_cast<bus_subscriber*>(privdata);
  auto* reply = static_cast<redisReply*>(r);
  if (reply == nullptr || self->stopped_) {
    return;  // the context is going away
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    self->error_log_(uv_now(self->loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: subscriber error: {} ({} more suppressed)", text(reply), suppressed);
    });
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
    return;
  }
  // ["pmessage", pattern, channel, payload] / ["psubscribe", pattern, count]
  if (reply->element[0]->type == REDIS_REPLY_STRING && text(reply->element[0]) == "pmessage") {
    if (reply->elements == 4 && reply->element[2]->type == REDIS_REPLY_STRING &&
        reply->element[3]->type == REDIS_REPLY_STRING) {
      self->on_broadcast_message(text(reply->element[2]), text(reply->element[3]));
    }
    return;
  }
  if (reply->element[0]->type == REDIS_REPLY_STRING && text(reply->element[0]) == "psubscribe") {
    self->on_pattern_subscribed();
    return;
  }
  const redisReply* kind = reply->element[0];
  const redisReply* channel = reply->element[1];
  const redisReply* payload = reply->element[2];
  if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING) {
    return;
  }
  if (text(kind) == "subscribe") {
    self->on_subscribed(text(channel));
    return;
  }
  if (text(kind) != "message" || payload->type != REDIS_REPLY_STRING) {
    return;  // unsubscribe confirmations
  }
  self->on_message(text(channel), text(payload));
}

void bus_subscriber::on_pattern_subscribed() {
  pattern_confirmed_ = true;
  if (!cb_.on_room_ready) return;
  // Every room waiting for its subscription is covered now. A copy: the callback may change
  // the rooms (a CONNECT answered, a socket gone).
  std::vector<std::string> rooms;
  rooms.reserve(rooms_.size());
  for (const auto& [room, members] : rooms_) rooms.push_back(room);
  for (const std::string& room : rooms) cb_.on_room_ready(room);
}

void bus_subscriber::on_subscribed(std::string_view channel) {
  auto room = wire::room_of_channel(channel, prefix_, k_bus_nsp);
  if (!room || room->empty() || !rooms_.contains(*room)) {
    return;  // the base channel, a fixed one, or a room left since
  }
  confirmed_.insert(*room);
  if (cb_.on_room_ready) {
    cb_.on_room_ready(*room);
  }
}

void bus_subscriber::on_message(std::string_view channel, std::string_view payload) {
  for (const fixed_channel& f : fixed_) {
    if (f.channel == channel) {
      in_fixed_handler_ = true;
      if (f.handler) {
        f.handler(channel, payload);
      }
      in_fixed_handler_ = false;
      return;
    }
  }
  on_broadcast_message(channel, payload);
}

void bus_subscriber::on_broadcast_message(std::string_view channel, std::string_view payload) {
  // The adapter's onmessage order: channel ours, room known (before decoding), uid, nsp.
  auto room = wire::room_of_channel(channel, prefix_, k_bus_nsp);
  if (!room) {
    return;
  }
  if (!room->empty() && !rooms_.contains(*room) &&
      !(pattern_ && cb_.is_local_socket && cb_.is_local_socket(*room))) {
    return;  // no local member (or unsubscribed while the message was in flight)
  }
  auto b = wire::decode_broadcast(payload);
  if (!b) {
    bus_count(stats_, &worker_stats::bus_bad_messages_total);
    bad_message_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: dropped a message on {}: {} ({} more suppressed)", channel, b.error(),
                suppressed);
    });
    return;
  }
  if ((b->uid == uid_ && !deliver_own_) || b->nsp != k_bus_nsp) {
    return;
  }
  bus_count(stats_, &worker_stats::bus_received_total);
  if (cb_.on_broadcast) {
    cb_.on_broadcast(*b);
  }
}

}  // namespace chatd
