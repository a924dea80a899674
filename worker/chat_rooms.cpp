// chat's room events beyond the seed, for a connected socket:
//   join  "room" | {room}    -> ack [{"room":…,"rooms":[…]}]; `login` to the room's others
//   leave "room" | {room}    -> ack [{"room":…,"rooms":[…]}]; `logout` to the room's others
//   who   ["room" | {room}]  -> ack [{"room":…,"sockets":[{"id","userId","node"}…],"nodes":…}]
//                               (GET /presence's answer: every node, through who_sink)
// A refusal is an ACK [{"error":"…"}], or an `error` event {"message":…,"event":…} when no ack
// was asked for; never a disconnect. Names pass the handshake channel's checks
// (limits.max_channel_length, common/name_check.h) and a room new to this worker its address's
// room quota (common/ip_limits.h). `rooms` lists the socket's rooms in join order, its own id
// room left out. A socket may leave its handshake channel: its messages then go only to the
// rooms it is in (until it joins the channel again).

#include "worker/chat.h"

#include "common/json_text.h"
#include "common/name_check.h"
#include "common/socketio.h"
#include "worker/bus_port.h"

#include <simdjson.h>

#include <algorithm>

namespace chatd {

namespace {

// A Socket.IO socket id's shape: 20 characters of base64url (Node's base64id and chatd's sids
// both). A socket's id is its private room: io.to(id) reaches that socket alone, and `who` shows
// ids, so a client that could join one would get another socket's private messages (and, on
// the same worker, take them from it: a room by that name is served before the socket).
bool looks_like_socket_id(std::string_view name) {
  return name.size() == 20 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

}  // namespace

app::ack_args chat::on_event(member& m, const sio::event_args& ev, int64_t ack_id) {
  if (ev.name == "join") return on_join(m, ev.first_arg, ack_id);
  if (ev.name == "leave") return on_leave(m, ev.first_arg, ack_id);
  if (ev.name == "who") return on_who(m, ev.first_arg, ack_id);
  if (ev.name == "history" && history_ != nullptr) return request_history(m, ev.first_arg, ack_id);
  return on_event(m, ev.name, ev.first_arg);
}

chat::room_arg chat::room_of_arg(std::string_view arg, bool optional_room) const {
  static const std::string usage = R"(a room name is needed: emit(event, "room") or emit(event, {room: "room"}))";
  room_arg out;
  if (arg.empty()) {
    if (!optional_room) out.error = usage;
    return out;
  }
  // Not the hot path: a room event is parsed, a message never is.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view name;
  if (parser.parse(arg.data(), arg.size()).get(root) != simdjson::SUCCESS ||
      (root.get(name) != simdjson::SUCCESS && root["room"].get(name) != simdjson::SUCCESS)) {
    out.error = usage;
    return out;
  }
  if (std::optional<std::string> bad = check_name("room", name, limits_.max_channel_length)) {
    out.error = std::move(*bad);
    return out;
  }
  out.room.assign(name);
  return out;
}

app::ack_args chat::answer(member& m, int64_t ack_id, std::string_view event,
                           const std::string& error) {
  if (ack_id >= 0) {
    ack_buf_.assign(R"([{"error":)");
    append_json_string(ack_buf_, error);
    ack_buf_.append("}]");
    return ack_buf_;
  }
  std::string body = R"({"message":)";
  append_json_string(body, error);
  body.append(R"(,"event":)");
  append_json_string(body, event);
  body.push_back('}');
  m.send(make_text_frame({sio::event_head(m.nsp(), "error"), body, sio::event_tail}));
  return std::nullopt;
}

app::ack_args chat::rooms_ack(const member& m, std::string_view room) {
  ack_buf_.assign(R"([{"room":)");
  append_json_string(ack_buf_, room);
  ack_buf_.append(R"(,"rooms":[)");
  bool first = true;
  rooms::for_each_room_of(m, [&](const struct room& r) {
    if (r.name == m.id()) return;
    if (!first) ack_buf_.push_back(',');
    first = false;
    append_json_string(ack_buf_, r.name);
  });
  ack_buf_.append("]}]");
  return ack_buf_;
}

app::ack_args chat::on_join(member& m, std::string_view arg, int64_t ack_id) {
  room_arg a = room_of_arg(arg, false);
  if (!a.error.empty()) return answer(m, ack_id, "join", a.error);
  if (a.room == m.id() || looks_like_socket_id(a.room)) {
    stats_.limit_bad_names_total.fetch_add(1, std::memory_order_relaxed);
    return answer(m, ack_id, "join",
                  "a room shaped like a socket id (20 letters, digits, '-' or '_') is that "
                  "socket's own, not a room to join");
  }
  room* r = rooms_.find(a.room);
  if (rooms::in(m, r)) return rooms_ack(m, a.room);  // there already: nobody is told again
  if (r == nullptr && limits_.per_ip != nullptr) {
    std::string why = limits_.per_ip->open_room(m.handshake().address, a.room, limits_.now());
    if (!why.empty()) {
      stats_.limit_rooms_refused_total.fetch_add(1, std::memory_order_relaxed);
      return answer(m, ack_id, "join", why);
    }
  }
  join(m, a.room);  // through chat::join: a recovery record follows the change
  if (a.room == m.channel()) left_channel_.erase(m.id());
  // client.to(room).emit("login", client.handshake.query)
  static const std::string login_head = sio::event_head("login");
  std::string storage;
  broadcast_to(m, {a.room}, login_head, "login", login_payload(m, storage));
  // As the CONNECT answer: with a subscription per room (adapter.subscription: rooms), the ACK
  // of a room new to this worker waits until Redis has confirmed its SUBSCRIBE, so nothing
  // published elsewhere after the client sees the ACK can miss the socket.
  if (ack_id >= 0 && bus_ != nullptr && bus_->room_pending(a.room)) {
    rooms_ack(m, a.room);
    join_acks_[a.room].push_back(waiting_ack{std::string(m.id()), ack_id, ack_buf_});
    return std::nullopt;
  }
  return rooms_ack(m, a.room);
}

void chat::release_join_acks(std::optional<std::string_view> room) {
  if (join_acks_.empty()) return;
  std::vector<waiting_ack> ready;
  if (!room) {
    for (auto& [name, waiting] : join_acks_) {
      for (waiting_ack& w : waiting) ready.push_back(std::move(w));
    }
    join_acks_.clear();
  } else {
    auto it = join_acks_.find(*room);
    if (it == join_acks_.end()) return;
    ready = std::move(it->second);
    join_acks_.erase(it);
  }
  // By id: a socket that went meanwhile is simply not found.
  for (const waiting_ack& w : ready) {
    if (member* to = find(w.sid)) {
      to->send(make_text_frame({sio::encode(sio::packet_type::ack, to->nsp(), w.args_json, w.ack_id)}));
    }
  }
}

app::ack_args chat::on_leave(member& m, std::string_view arg, int64_t ack_id) {
  room_arg a = room_of_arg(arg, false);
  if (!a.error.empty()) return answer(m, ack_id, "leave", a.error);
  if (!rooms::in(m, rooms_.find(a.room))) {
    return answer(m, ack_id, "leave", "not in room " + a.room);
  }
  // Told while the socket is still in the room (it is left out of the delivery): a last member
  // leaving takes the room with it.
  static const std::string logout_head = sio::event_head("logout");
  std::string storage;
  broadcast_to(m, {a.room}, logout_head, "logout", login_payload(m, storage));
  leave(m, a.room);
  if (a.room == m.channel()) left_channel_.insert(m.id());
  return rooms_ack(m, a.room);
}

app::ack_args chat::on_who(member& m, std::string_view arg, int64_t ack_id) {
  room_arg a = room_of_arg(arg, true);
  if (!a.error.empty()) return answer(m, ack_id, "who", a.error);
  if (a.room.empty()) a.room = m.channel();  // who(): the handshake channel
  if (ack_id < 0) {
    return answer(m, ack_id, "who", R"(who answers in its ack: emit("who", "room", (answer) => …))");
  }
  if (!who_sink) return answer(m, ack_id, "who", "who is not available on this server");
  // Answered later (the other nodes' replies): the socket is looked up again by id then, since
  // it may have gone meanwhile.
  who_sink(a.room, [this, sid = std::string(m.id()), ack_id](std::string answer_json) {
    member* to = find(sid);
    if (to == nullptr) return;
    std::string args = "[" + answer_json + "]";
    to->send(make_text_frame({sio::encode(sio::packet_type::ack, to->nsp(), args, ack_id)}));
  });
  return std::nullopt;
}

}  // namespace chatd
