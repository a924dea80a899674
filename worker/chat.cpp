// The seed's chat gateway: login on join, message -> stamped chat to the other members of the
// socket's rooms, logout and leave on disconnect; local fan-out shares one frame, remote fan-out
// goes through the Redis bus. join / leave / who are in chat_rooms.cpp.

#include "worker/chat.h"

#include "common/assert.h"
#include "common/history_request.h"
#include "common/json_member.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/name_check.h"
#include "common/socketio.h"
#include "common/url_query.h"
#include "worker/bus_port.h"
#include "worker/chat_stamp.h"

#include <fmt/format.h>
#include "worker/history_store.h"
#include "worker/recovery.h"
#include "worker/stream_publisher.h"

#include <algorithm>
#include <chrono>

namespace chatd {

chat::chat(worker_stats& stats, bus_port* b, bool socket_rooms, user_id_rule mismatched_user_id)
    : stats_(stats),
      bus_(b),
      socket_rooms_(socket_rooms && b != nullptr),
      user_id_rule_(mismatched_user_id),
      node_uid_(b != nullptr ? b->uid() : std::string("local")) {
  if (bus_ != nullptr) {
    rooms_.on_first_member = [this](std::string_view room) { bus_->subscribe_room(room); };
  }
  rooms_.on_last_member = [this](std::string_view room) {
    if (bus_ != nullptr) bus_->unsubscribe_room(room);
    if (limits_.per_ip != nullptr) limits_.per_ip->room_closed(room, limits_.now());
  };
}

std::string chat::refusal(member& m) {
  if (!m.has_channel()) return "missing channel: connect with io(url, {query: {channel, userId}})";
  const std::string* user_id = nullptr;
  url_query q;
  if (limits_.max_user_id_length > 0) {
    q = parse_url_query(split_target(m.handshake().url()).second);
    user_id = q.get("userId");
  }
  std::optional<std::string> bad = check_name("channel", m.channel(), limits_.max_channel_length);
  if (!bad && user_id != nullptr) bad = check_name("userId", *user_id, limits_.max_user_id_length);
  if (bad) {
    stats_.limit_bad_names_total.fetch_add(1, std::memory_order_relaxed);
    return std::move(*bad);
  }
  if (limits_.per_ip == nullptr || rooms_.find(m.channel()) != nullptr) return {};
  std::string why = limits_.per_ip->open_room(m.handshake().address, m.channel(), limits_.now());
  if (!why.empty()) stats_.limit_rooms_refused_total.fetch_add(1, std::memory_order_relaxed);
  return why;
}

void chat::on_connect(member& s) {
  if (std::string why = refusal(s); !why.empty()) return s.refuse_connect(why);
  // Recovery: a CONNECT carrying a pid and an offset asks Redis for its session first;
  // connect_member follows (recovery.h), with the record or for a fresh socket.
  if (recovery_ != nullptr && recovery_->begin_restore(s)) return;
  connect_member(s, nullptr);
}

void chat::connect_member(member& s, const recovery_wire::session_record* restored) {
  by_sid_.emplace(s.id(), &s);
  stats_.sessions.fetch_add(1, std::memory_order_relaxed);
  if (restored == nullptr) {
    rooms_.join(s, s.channel());
  } else {
    // A restored socket keeps the rooms it had (its own id room is implicit here).
    for (const std::string& room : restored->rooms) {
      if (room != s.id()) rooms_.join(s, room);
    }
  }
  if (socket_rooms_) bus_->subscribe_room(s.id());
  if (bus_ != nullptr && bus_->room_pending(s.channel())) {
    s.connect_pending_ = true;
    pending_[std::string(s.channel())].push_back(&s);
    return;
  }
  finish_connect(s);
}

void chat::finish_connect(member& s) {
  s.connect_pending_ = false;
  // Recovery hook: the reply carries a pid; a restored socket gets it after its replay, and
  // never left as far as its room knows: no login.
  if (recovery_ != nullptr) {
    const bool restored = recovery_->restoring(s);
    recovery_->accept(s);
    if (restored) return;
  } else {
    s.accept_connect();
  }
  // client.to(channel).emit("login", client.handshake.query)
  static const std::string login_head = sio::event_head("login");
  std::string storage;
  broadcast_to(s, target_rooms(s), login_head, "login", login_payload(s, storage));
}

std::string_view chat::login_payload(const member& m, std::string& storage) const {
  if (m.user_id().empty()) return m.query_json();
  // Verified: the token's user, and the token itself kept from the room.
  storage = json_set_string_member(m.query_json(), "userId", m.user_id(), "token")
                .value_or(std::string(m.query_json()));
  return storage;
}

std::optional<std::string_view> chat::payload_of(member& m, std::string_view payload,
                                                 std::string& storage) {
  if (m.user_id().empty()) return payload;
  json_string_member claimed = json_get_string_member(payload, "userId");
  if (claimed.state == json_member_state::string && claimed.value == m.user_id()) return payload;
  stats_.auth_user_id_mismatch_total.fetch_add(1, std::memory_order_relaxed);
  if (user_id_rule_ == user_id_rule::rewrite) {
    if (auto rewritten = json_set_string_member(payload, "userId", m.user_id())) {
      storage = std::move(*rewritten);
      return std::string_view(storage);
    }
  }
  // socket.emit("error", …) to the sender alone; nothing reaches the room.
  static const shared_bytes refused = make_text_frame({sio::event_head("error"),
      R"({"message":"forbidden","data":{"reason":"userId does not match the token's user"}})",
      sio::event_tail});
  m.send(refused);
  return std::nullopt;
}

void chat::on_room_ready(std::string_view room) {
  release_join_acks(room);
  auto it = pending_.find(room);
  if (it == pending_.end()) return;
  std::vector<member*> waiting = std::move(it->second);
  pending_.erase(it);
  for (member* s : waiting) finish_connect(*s);
}

void chat::release_pending() {
  auto all = std::move(pending_);
  pending_.clear();
  for (auto& [room, waiting] : all) {
    for (member* s : waiting) finish_connect(*s);
  }
  release_join_acks(std::nullopt);
}

namespace {

app::ack_args bus_ack(bool published) {
  return published ? R"([{"bus":true}])" : R"([{"bus":false}])";
}

// [{"bus":…,"id":…}]: a stamped message's ACK names its id.
app::ack_args stamped_ack(std::string& out, bool published, std::string_view id) {
  out.assign(published ? R"([{"bus":true,"id":)" : R"([{"bus":false,"id":)");
  append_json_string(out, id);
  out.append("}]");
  return out;
}

uint64_t wall_clock_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// A message refused (auth: its userId is not the token's user): delivered nowhere.
app::ack_args refused_ack() { return R"([{"bus":false,"refused":true}])"; }

// A message from a socket in no room (it left them all, its channel too): delivered nowhere. It
// must not be broadcast: a broadcast naming no room is, to the adapter, one to every socket of
// the fleet.
app::ack_args roomless_ack() { return R"([{"bus":false,"error":"in no room: join one first"}])"; }

}  // namespace

app::ack_args chat::on_event(member& s, std::string_view name, std::string_view payload_json) {
  if (name != "message") return std::nullopt;
  stats_.messages_in_total.fetch_add(1, std::memory_order_relaxed);
  stats_.message_size_bytes.observe(k_size_bounds_bytes, payload_json.size());
  std::string storage;
  std::optional<std::string_view> payload = payload_of(s, payload_json, storage);
  if (!payload) return refused_ack();
  std::vector<std::string> names = target_rooms(s);
  if (names.empty()) return roomless_ack();
  // client.to(rooms).emit("chat", payload): an absent payload is `undefined`, sent as null; an
  // object gets the stamp (no parse: chat_stamp.h), anything else goes unstamped.
  static const std::string chat_head = sio::event_head("chat");
  std::string_view relayed = payload->empty() ? std::string_view("null") : *payload;
  stamp_buf_.clear();
  const bool stamped =
      stampable(relayed) && append_stamped(stamp_buf_, relayed, next_message_id(), wall_clock_ms());
  const std::string_view delivered = stamped ? std::string_view(stamp_buf_) : relayed;
  // History hook: each room's history keeps the payload as its members got it. With recovery
  // the publish script appends it under the broadcast's own id (one room); otherwise here.
  if (history_ != nullptr && (stream_pub_ == nullptr || names.size() != 1)) {
    for (const std::string& room : names) history_->append(s.nsp(), room, delivered);
  }
  const bool published = broadcast_to(s, std::move(names), chat_head, "chat", delivered,
                                      history_ != nullptr ? delivered : std::string_view());
  return stamped ? stamped_ack(ack_buf_, published, message_id_) : bus_ack(published);
}

std::string_view chat::next_message_id() {
  message_id_.assign(node_uid_).push_back('-');
  fmt::format_to(std::back_inserter(message_id_), "{}", ++message_counter_);
  return message_id_;
}

app::ack_args chat::request_history(member& m, std::string_view arg_json, int64_t ack_id) {
  if (ack_id < 0) return std::nullopt;  // nobody to answer: socket.io would not call back either
  auto req = parse_history_request(arg_json, history_->max_messages());
  if (!req) {
    ack_storage_ = history_store::error_args(req.error());
    return std::string_view(ack_storage_);
  }
  std::string_view room = req->room.empty() ? m.channel() : std::string_view(req->room);
  // Only a room the member is in: history is what its members were sent.
  bool in_room = false;
  rooms::for_each_room_of(m, [&](const chatd::room& r) { in_room = in_room || r.name == room; });
  if (!in_room) {
    ack_storage_ = history_store::error_args("not in that room");
    return std::string_view(ack_storage_);
  }
  history_->query(m, room, req->limit, ack_id);
  return std::nullopt;
}

void chat::on_ack(member& m, int64_t ack_id, std::string_view args_json,
                  std::vector<std::string> attachments) {
  if (ack_sink) ack_sink(m, ack_id, args_json, std::move(attachments));
}

void chat::on_disconnect(member& s) {
  // Recovery hook: a socket that left while its restore was still being looked up was never
  // registered here.
  if (recovery_ != nullptr && recovery_->on_disconnect(s)) return;
  if (leave_sink) leave_sink(s);
  const bool never_connected = s.connect_pending_;  // nobody was told of its login
  if (history_ != nullptr) history_->forget(s);  // a query in flight answers nobody
  if (s.connect_pending_) {
    s.connect_pending_ = false;
    if (auto it = pending_.find(s.channel()); it != pending_.end()) {
      std::erase(it->second, &s);
      if (it->second.empty()) pending_.erase(it);
    }
  }
  if (!never_connected) {
    // client.to(rooms).emit("logout", client.handshake.query): the rooms it is still in.
    static const std::string logout_head = sio::event_head("logout");
    if (std::vector<std::string> in = target_rooms(s, false); !in.empty()) {
      std::string storage;
      broadcast_to(s, std::move(in), logout_head, "logout", login_payload(s, storage));
    }
  }
  left_channel_.erase(s.id());
  rooms_.leave_all(s);
  if (socket_rooms_) bus_->unsubscribe_room(s.id());
  by_sid_.erase(s.id());
  stats_.sessions.fetch_sub(1, std::memory_order_relaxed);
}

bool chat::has_others(const room* r, const member& m) {
  return r != nullptr && !r->members.empty() && !(r->members.size() == 1 && r->members[0] == &m);
}

std::vector<std::string> chat::target_rooms(const member& m, bool channel_fallback) const {
  std::vector<std::string> out;
  rooms::for_each_room_of(m, [&](const room& r) {
    if (r.name != m.id()) out.push_back(r.name);
  });
  // client.to(channel) names the room whether or not the socket is still in it (another node's
  // socketsLeave may have taken it out), unless the socket itself left it (`leave`). The usual
  // case, the channel first among its rooms, costs no lookup.
  if (channel_fallback && (out.empty() || out.front() != m.channel()) &&
      std::find(out.begin(), out.end(), m.channel()) == out.end() &&
      !left_channel_.contains(m.id())) {
    out.emplace_back(m.channel());
  }
  return out;
}

template <class Send>
uint64_t chat::fan_out(member& from, const std::vector<std::string>& names, Send&& send) {
  uint64_t n = 0;
  if (names.size() == 1) {
    // The common case, one room: no marks needed. Its home room is that room unless another
    // node moved it.
    room* r = from.home_.where;
    if (r == nullptr || r->name != names.front()) r = rooms_.find(names.front());
    if (!has_others(r, from)) return 0;
    rooms::for_each_member(*r, [&](member& m) {
      if (&m != &from && send(m)) ++n;
    });
  } else {
    // Several rooms: a member in more than one gets the packet once (as the adapter's
    // broadcast over several rooms does).
    ++mark_;
    from.mark_ = mark_;
    for (const std::string& name : names) {
      room* r = rooms_.find(name);
      if (r == nullptr) continue;
      rooms::for_each_member(*r, [&](member& m) {
        if (m.mark_ == mark_) return;
        m.mark_ = mark_;
        if (send(m)) ++n;
      });
    }
  }
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
  if (n > 0 && delivery_ != nullptr) delivery_->queued();
  return n;
}

bool chat::broadcast_to(member& from, std::vector<std::string> names, std::string_view event_prefix,
                        std::string_view event, std::string_view arg_json,
                        std::string_view history_payload) {
  CHATD_ASSERT(!names.empty(), "a broadcast naming no room would reach every socket of the fleet");
  if (bus_ != nullptr && stream_pub_ != nullptr) {
    wire::broadcast b;
    b.data_json = sio::event_data(event, arg_json);
    b.rooms = names;
    b.except.emplace_back(from.id());
    // Recovery hook: recorded with its offset; local members get it when Redis hands it back,
    // so they see offsets in the stream's order. Dropped (Redis away): delivered below.
    if (stream_pub_->publish(b, history_payload)) return true;
  }
  shared_bytes frame;  // framed once, at the first recipient
  fan_out(from, names, [&](member& m) {
    if (!frame) frame = make_text_frame({event_prefix, arg_json, sio::event_tail});
    return m.send(frame);
  });
  // With recovery, what the stream publisher dropped is not published otherwise: a copy coming
  // back from Redis would be delivered here a second time.
  if (bus_ == nullptr || stream_pub_ != nullptr) return false;
  wire::broadcast b;
  b.data_json = sio::event_data(event, arg_json);
  b.rooms = std::move(names);
  b.except.emplace_back(from.id());
  return bus_->publish(std::move(b));
}

namespace {

// A BINARY_EVENT as socket.io-parser encodes it: 5<n>-[...] with placeholders, then one binary
// WebSocket frame per attachment. Framed once; every recipient shares the frames.
std::vector<shared_bytes> binary_event_frames(std::string_view data_json,
                                              const std::vector<std::string>& attachments) {
  std::vector<shared_bytes> frames;
  frames.reserve(attachments.size() + 1);
  frames.push_back(make_text_frame({sio::binary_event_head(attachments.size()), data_json}));
  for (const std::string& a : attachments) {
    std::string f;
    ws::append_frame(f, ws::opcode::binary, a);
    frames.push_back(make_bytes(std::move(f)));
  }
  return frames;
}

}  // namespace

bool chat::send_all(member& m, const std::vector<shared_bytes>& frames) {
  if (!m.send(frames.front())) return false;
  for (size_t i = 1; i < frames.size(); ++i) m.send(frames[i]);
  return true;
}

app::ack_args chat::on_binary_event(member& s, std::string_view name,
                                   std::string_view payload_json,
                                   std::vector<std::string> attachments) {
  if (name != "message") return std::nullopt;
  stats_.messages_in_total.fetch_add(1, std::memory_order_relaxed);
  size_t size = payload_json.size();
  for (const std::string& a : attachments) size += a.size();
  stats_.message_size_bytes.observe(k_size_bounds_bytes, size);
  std::string storage;
  std::optional<std::string_view> payload = payload_of(s, payload_json, storage);
  if (!payload) return refused_ack();
  std::vector<std::string> names = target_rooms(s);
  if (names.empty()) return roomless_ack();
  // client.to(rooms).emit("chat", payload): the payload keeps its placeholders (and gets the
  // stamp when it is an object), the parts go along as they came.
  std::string_view relayed = payload->empty() ? std::string_view("null") : *payload;
  std::string data_json;
  data_json.reserve(relayed.size() + 80);
  data_json.append(R"(["chat",)");
  // A payload that is itself a Buffer (a bare placeholder) becomes that Buffer on arrival: no
  // stamp to carry.
  const bool stamped = !relayed.starts_with(R"({"_placeholder":)") && stampable(relayed) &&
                       append_stamped(data_json, relayed, next_message_id(), wall_clock_ms());
  if (!stamped) data_json.append(relayed);
  data_json.append("]");
  auto ack = [&](bool published) {
    return stamped ? stamped_ack(ack_buf_, published, message_id_) : bus_ack(published);
  };
  // Recovery hook: not recorded (no offset), but, like the recorded ones, delivered to local
  // members when it comes back from Redis, so a sender's text and binary messages keep their
  // order everywhere. Dropped by the bus: delivered here below.
  if (stream_pub_ != nullptr && bus_ != nullptr) {
    wire::broadcast b;
    b.data_json = data_json;
    b.attachments = attachments;
    b.rooms = names;
    b.except.emplace_back(s.id());
    if (bus_->publish(std::move(b))) return ack(true);
  }
  std::vector<shared_bytes> frames;
  fan_out(s, names, [&](member& m) {
    if (frames.empty()) frames = binary_event_frames(data_json, attachments);
    return send_all(m, frames);
  });
  if (bus_ == nullptr || stream_pub_ != nullptr) return ack(false);
  // Other nodes get packet.data with each attachment as a msgpack bin, as a Node server sends a
  // Buffer.
  wire::broadcast b;
  b.data_json = std::move(data_json);
  b.attachments = std::move(attachments);
  b.rooms = std::move(names);
  b.except.emplace_back(s.id());
  return ack(bus_->publish(std::move(b)));
}

void chat::on_bus(const wire::broadcast& b) {
  if (b.type != static_cast<int>(sio::packet_type::event) &&
      b.type != static_cast<int>(sio::packet_type::binary_event)) {
    return;
  }
  // A text event is one frame (the common case: no vector); with attachments, the BINARY_EVENT
  // frame and one per attachment.
  std::optional<recovery_wire::stream_id> offset;
  if (recovery_ != nullptr) {
    // Our own broadcasts come back too (bus::deliver_own) and are delivered now: nothing is
    // both delivered at once and published while recovery is on.
    offset = recovery_wire::offset_of(b.data_json);
  }
  const bool binary = !b.attachments.empty();
  shared_bytes frame = binary ? nullptr : make_text_frame({sio::type_prefix(sio::packet_type::event), b.data_json});
  std::vector<shared_bytes> frames;
  if (binary) frames = binary_event_frames(b.data_json, b.attachments);
  ++mark_;
  // Sockets named in `except` (by socket id, or through a room) are marked as already served.
  for (const std::string& e : b.except) {
    if (auto it = by_sid_.find(e); it != by_sid_.end()) it->second->mark_ = mark_;
    if (room* r = rooms_.find(e)) {
      rooms::for_each_member(*r, [&](member& m) { m.mark_ = mark_; });
    }
  }
  uint64_t n = 0;
  auto serve = [&](member& m) {
    if (m.mark_ == mark_) return;
    m.mark_ = mark_;
    // Recovery hook: a socket being restored gets it after its replay (or never, if the replay
    // had it: the offset says).
    if (m.held_ && recovery_ != nullptr) {
      recovery_->hold(m, offset, binary ? frames : std::vector<shared_bytes>{frame});
      return;
    }
    if (binary ? send_all(m, frames) : m.send(frame)) ++n;
  };
  if (b.rooms.empty()) {
    for (auto& [sid, m] : by_sid_) serve(*m);
  } else {
    for (const std::string& name : b.rooms) {
      if (room* r = rooms_.find(name)) {
        rooms::for_each_member(*r, serve);
      } else if (auto it = by_sid_.find(name); it != by_sid_.end()) {
        serve(*it->second);  // io.to(socketId): every socket is in the room named by its id
      }
    }
  }
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
  if (n > 0 && delivery_ != nullptr) delivery_->queued();
}

std::vector<member*> chat::select(const std::vector<std::string>& in,
                                  const std::vector<std::string>& except) {
  ++mark_;
  // Marked first: the sockets excluded, by their id or through a room.
  for (const std::string& e : except) {
    if (member* m = find(e)) m->mark_ = mark_;
    if (room* r = rooms_.find(e)) rooms::for_each_member(*r, [&](member& m) { m.mark_ = mark_; });
  }
  std::vector<member*> out;
  auto take = [&](member& m) {
    if (m.mark_ == mark_) return;
    m.mark_ = mark_;
    out.push_back(&m);
  };
  if (in.empty()) {
    for (auto& [sid, m] : by_sid_) take(*m);
    return out;
  }
  for (const std::string& name : in) {
    if (room* r = rooms_.find(name)) {
      rooms::for_each_member(*r, take);
    } else if (member* m = find(name)) {
      take(*m);
    }
  }
  return out;
}

member* chat::find(std::string_view sid) {
  auto it = by_sid_.find(sid);
  return it == by_sid_.end() ? nullptr : it->second;
}

std::vector<std::string> chat::all_rooms() const {
  std::vector<std::string> out;
  out.reserve(by_sid_.size() + rooms_.size());
  for (const auto& [sid, m] : by_sid_) out.emplace_back(sid);
  rooms_.for_each_room([&](const room& r) {
    if (by_sid_.find(r.name) == by_sid_.end()) out.push_back(r.name);
  });
  return out;
}

std::vector<std::string> chat::rooms_of(const member& m) {
  std::vector<std::string> out;
  out.emplace_back(m.id());
  rooms::for_each_room_of(m, [&](const room& r) {
    if (r.name != m.id()) out.push_back(r.name);
  });
  return out;
}

bool chat::join(member& m, std::string_view room) {
  if (room == m.id()) return false;
  const bool joined = rooms_.join(m, room);
  if (joined && recovery_ != nullptr) recovery_->rooms_changed(m);  // recovery hook: its record
  return joined;
}

bool chat::leave(member& m, std::string_view room) {
  if (room == m.id()) return false;
  const bool left = rooms_.leave(m, room);
  if (left && recovery_ != nullptr) recovery_->rooms_changed(m);  // recovery hook: its record
  return left;
}

size_t chat::send_to(const std::vector<member*>& to, const std::vector<shared_bytes>& frames) {
  size_t n = 0;
  for (member* m : to) {
    if (send_all(*m, frames)) ++n;
  }
  stats_.deliveries_total.fetch_add(n, std::memory_order_relaxed);
  return n;
}

}  // namespace chatd
