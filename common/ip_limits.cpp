// Per-source-address connection and room limits of one worker (common/ip_limits.h).

#include "common/ip_limits.h"

#include <fmt/format.h>

namespace chatd {

ip_limits::entry& ip_limits::at(std::string_view ip) {
  auto it = by_ip_.find(ip);
  if (it != by_ip_.end()) return it->second;
  if (by_ip_.size() >= sweep_at_) sweep(last_now_ms_);
  return by_ip_.emplace(std::string(ip), entry{}).first->second;
}

bool ip_limits::connection_opened(std::string_view ip, bool enforce) {
  entry& e = at(ip);
  if (enforce && settings_.max_connections_per_ip > 0 &&
      e.connections >= settings_.max_connections_per_ip) {
    return false;
  }
  ++e.connections;
  return true;
}

void ip_limits::connection_closed(std::string_view ip) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end() || it->second.connections == 0) return;
  --it->second.connections;
  forget_if_idle(it, last_now_ms_);
}

std::string ip_limits::open_room(std::string_view ip, std::string_view room, uint64_t now_ms) {
  last_now_ms_ = now_ms;
  if (opener_.find(room) != opener_.end()) return {};  // charged already
  entry& e = at(ip);
  if (settings_.rooms_per_ip > 0 && e.rooms >= settings_.rooms_per_ip) {
    return fmt::format("too many rooms opened from this address (limit {})", settings_.rooms_per_ip);
  }
  if (!e.room_rate.take(now_ms, room_rate(), room_burst())) {
    return fmt::format("too many new rooms from this address (limit {} per minute)",
                       settings_.rooms_per_ip_per_minute);
  }
  ++e.rooms;
  opener_.emplace(std::string(room), std::string(ip));
  return {};
}

void ip_limits::room_closed(std::string_view room, uint64_t now_ms) {
  last_now_ms_ = now_ms;
  auto o = opener_.find(room);
  if (o == opener_.end()) return;
  auto it = by_ip_.find(o->second);
  opener_.erase(o);
  if (it == by_ip_.end() || it->second.rooms == 0) return;
  --it->second.rooms;
  forget_if_idle(it, now_ms);
}

void ip_limits::forget_if_idle(table::iterator it, uint64_t now_ms) {
  const entry& e = it->second;
  if (e.connections == 0 && e.rooms == 0 && e.room_rate.full(now_ms, room_rate(), room_burst())) {
    by_ip_.erase(it);
  }
}

void ip_limits::sweep(uint64_t now_ms) {
  for (auto it = by_ip_.begin(); it != by_ip_.end();) {
    auto next = std::next(it);
    forget_if_idle(it, now_ms);
    it = next;
  }
  sweep_at_ = std::max<size_t>(1024, 2 * by_ip_.size());
}

uint32_t ip_limits::connections_of(std::string_view ip) const {
  auto it = by_ip_.find(ip);
  return it == by_ip_.end() ? 0 : it->second.connections;
}

uint32_t ip_limits::rooms_of(std::string_view ip) const {
  auto it = by_ip_.find(ip);
  return it == by_ip_.end() ? 0 : it->second.rooms;
}

}  // namespace chatd
