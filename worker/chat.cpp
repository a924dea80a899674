// The seed's chat gateway: login on join, message -> chat to the room's other members, leave on
// disconnect; local fan-out shares one frame, remote fan-out goes through the Redis bus.

#include "worker/chat.h"

#include "common/log.h"
#include "common/socketio.h"
#include "worker/bus.h"
#include "worker/session.h"

#include <algorithm>

namespace chatd {

chat::chat(worker_stats& stats, bus* b) : stats_(stats), bus_(b) {
  if (bus_ != nullptr) {
    rooms_.on_first_member = [this](std::string_view room) { bus_->subscribe_room(room); };
    rooms_.on_last_member = [this](std::string_view room) { bus_->unsubscribe_room(room); };
  }
}

void chat::on_connect(session& s) {
  by_sid_.emplace(s.sio_sid(), &s);
  stats_.sessions.fetch_add(1, std::memory_order_relaxed);
  rooms_.join(s, s.channel());
  if (bus_ != nullptr && bus_->room_pending(s.channel())) {
    s.connect_pending_ = true;
    pending_[s.channel()].push_back(&s);
    return;
  }
  finish_connect(s);
}

void chat::finish_connect(session& s) {
  s.connect_pending_ = false;
  s.send_connect_reply();
  // client.to(channel).emit("login", client.handshake.query)
  broadcast(s, R"(42["login",)", "login", s.query_json());
}

void chat::on_room_ready(std::string_view room) {
  auto it = pending_.find(room);
  if (it == pending_.end()) return;
  std::vector<session*> waiting = std::move(it->second);
  pending_.erase(it);
  for (session* s : waiting) finish_connect(*s);
}

void chat::release_pending() {
  auto all = std::move(pending_);
  pending_.clear();
  for (auto& [room, waiting] : all) {
    for (session* s : waiting) finish_connect(*s);
  }
}

void chat::on_message(session& s, std::string_view payload_json) {
  stats_.messages_in_total.fetch_add(1, std::memory_order_relaxed);
  // client.to(channel).emit("chat", payload): an absent payload is `undefined`, sent as null.
  broadcast(s, R"(42["chat",)", "chat", payload_json.empty() ? "null" : payload_json);
}

void chat::on_disconnect(session& s) {
  if (s.connect_pending_) {
    s.connect_pending_ = false;
    if (auto it = pending_.find(s.channel()); it != pending_.end()) {
      std::erase(it->second, &s);
      if (it->second.empty()) pending_.erase(it);
    }
  }
  rooms_.leave(s);
  by_sid_.erase(s.sio_sid());
  stats_.sessions.fetch_sub(1, std::memory_order_relaxed);
}

void chat::deliver(room& r, const shared_bytes& frame, const session* except) {
  uint64_t n = 0;
  ++r.walking;
  for (session* m : r.members) {
    if (m == except) continue;
    if (m->send(frame)) ++n;
  }
  --r.walking;
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
}

void chat::broadcast(session& from, std::string_view event_prefix, std::string_view event,
                     std::string_view arg_json) {
  if (room* r = from.room_; r != nullptr && r->members.size() > 1) {
    deliver(*r, make_text_frame({event_prefix, arg_json, "]"}), &from);
  }
  if (bus_ == nullptr) return;
  wire::broadcast b;
  b.data_json.reserve(event.size() + arg_json.size() + 6);
  b.data_json.append("[\"").append(event).append("\",").append(arg_json).append("]");
  b.rooms.emplace_back(from.channel());
  b.except.emplace_back(from.sio_sid());
  bus_->publish(std::move(b));
}

void chat::on_binary_message(session& s, std::string_view payload_json,
                             const std::vector<std::string>& attachments) {
  stats_.messages_in_total.fetch_add(1, std::memory_order_relaxed);
  room* r = s.room_;
  if (r == nullptr || r->members.size() < 2) return;
  // 45<n>-["chat",<payload with placeholders>] followed by one binary frame per attachment.
  // Binary payloads are relayed to this worker's members only: the bus carries JSON packets.
  std::string head = "45" + std::to_string(attachments.size()) + "-[\"chat\",";
  shared_bytes frame = make_text_frame({head, payload_json.empty() ? "null" : payload_json, "]"});
  std::vector<shared_bytes> parts;
  parts.reserve(attachments.size());
  for (const std::string& a : attachments) {
    std::string f;
    ws::append_frame(f, ws::opcode::binary, a);
    parts.push_back(make_bytes(std::move(f)));
  }
  ++r->walking;
  uint64_t n = 0;
  for (session* m : r->members) {
    if (m == &s) continue;
    if (!m->send(frame)) continue;
    ++n;
    for (const shared_bytes& p : parts) m->send(p);
  }
  --r->walking;
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
}

void chat::on_bus(const wire::broadcast& b) {
  if (b.type != static_cast<int>(sio::packet_type::event)) return;
  shared_bytes frame = make_text_frame({"42", b.data_json});
  ++mark_;
  // Sockets named in `except` (by socket id, or through a room) are marked as already served.
  for (const std::string& e : b.except) {
    if (auto it = by_sid_.find(e); it != by_sid_.end()) it->second->mark_ = mark_;
    if (room* r = rooms_.find(e)) {
      for (session* m : r->members) m->mark_ = mark_;
    }
  }
  uint64_t n = 0;
  auto serve = [&](session* m) {
    if (m->mark_ == mark_) return;
    m->mark_ = mark_;
    if (m->send(frame)) ++n;
  };
  if (b.rooms.empty()) {
    for (auto& [sid, m] : by_sid_) serve(m);
  } else {
    for (const std::string& name : b.rooms) {
      if (room* r = rooms_.find(name)) {
        ++r->walking;
        for (session* m : r->members) serve(m);
        --r->walking;
      } else if (auto it = by_sid_.find(name); it != by_sid_.end()) {
        serve(it->second);  // io.to(socketId): every socket is in the room named by its id
      }
    }
  }
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace chatd
