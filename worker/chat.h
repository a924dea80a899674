#pragma once
// The seed's chat gateway (NestJS ChatGateway) for this worker, and what chat adds beyond it:
//   connection: join room = handshake `channel`; `login` with the handshake query to the others;
//   `message`:  `chat` with the payload, stamped (worker/chat_stamp.h: `id`, `ts`), to every
//               other member of every room the socket is in, each member once;
//   `join` / `leave` (worker/chat_rooms.cpp): another room, `login` / `logout` to its others;
//   `who` (worker/chat_rooms.cpp): the room's members on every node, through who_sink;
//   disconnect: `logout` to the others of each of its rooms, then leave them.
// With auth on (a member with a verified user_id()), the userId that counts is the token's: the
// login carries the query with userId set to it (and no token), and a `message` whose payload's
// userId is another is refused (dropped; the sender gets an `error` event) or rewritten.
// A broadcast goes to the local members at once (framed once, shared by all) and to Redis in the
// @socket.io/redis-adapter format; broadcasts from other nodes arrive through on_bus().
// It sees members (worker/member.h), never sessions: the unit tests drive it with their own.

#include "common/string_hash.h"
#include "common/bus_wire.h"
#include "common/recovery_wire.h"
#include "common/ip_limits.h"
#include "common/stats.h"
#include "worker/app.h"
#include "worker/delivery_timer.h"
#include "worker/frame.h"
#include "worker/rooms.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatd {

class bus_port;
class history_store;
class recovery;
class stream_publisher;

// What happens to a verified member's `message` whose payload does not carry its user as userId
// (config auth.mismatched_user_id).
enum class user_id_rule : uint8_t { refuse, rewrite };

class chat final : public app {
 public:
  // `socket_rooms`: each socket's own room (io.to(socket.id) from another node) gets its Redis
  // subscription too.
  chat(worker_stats& stats, bus_port* b, bool socket_rooms = false,
       user_id_rule mismatched_user_id = user_id_rule::refuse);

  // Socket.IO CONNECT accepted: registers the socket, joins its room, then answers the CONNECT
  // and tells the room. When the room is new on this worker, the answer waits until Redis has
  // confirmed the room's subscription (or the bus goes down), so nothing published elsewhere
  // after the client sees "connect" can miss it.
  void on_connect(member& m) override;
  // The bus confirmed a room's subscription / lost Redis: answer the CONNECTs waiting on it.
  void on_room_ready(std::string_view room);
  void release_pending();
  // A `message` event: relays its first argument as `chat` to the room. Other events have no
  // handler in the seed's gateway: ignored, as socket.io does (no ACK).
  // A `message`'s ACK says whether the broadcast reached the bus: [{"bus":true}] when the
  // publisher link took it (it is on its way to Redis; local members have it already),
  // [{"bus":false}] when it was dropped (Redis down or not keeping up, or no bus): only this
  // worker's members got it.
  // The ACK then also carries the stamp's id ([{"bus":true,"id":"<uid>-<n>"}]) when the payload
  // was an object (stamped).
  ack_args on_event(member& m, std::string_view name, std::string_view first_arg_json) override;
  // What the session calls: `join`, `leave`, `who` (worker/chat_rooms.cpp) and `history` need
  // the ack id (an error without one is an `error` event; `who` and `history` answer later);
  // the rest goes on above.
  ack_args on_event(member& m, const sio::event_args& ev, int64_t ack_id) override;
  // A BINARY_EVENT `message`: relays it with its attachments to the room, here and through the
  // bus (attachments as msgpack bin, the way Node's adapter sends Buffers); acknowledged as above.
  ack_args on_binary_event(member& m, std::string_view name, std::string_view first_arg_json,
                           std::vector<std::string> attachments) override;
  // The socket left (Socket.IO DISCONNECT or transport gone).
  void on_disconnect(member& m) override;
  // A broadcast published by another node.
  void on_bus(const wire::broadcast& b);

  // A client's ACK: handed to ack_sink (the adapter node waits for broadcast acks).
  void on_ack(member& m, int64_t ack_id, std::string_view args_json,
              std::vector<std::string> attachments) override;

  // What a CONNECT must pass before it joins (limits: in the config): its channel and userId
  // (common/name_check.h), and, for a room new to this worker, its address's room quota
  // (common/ip_limits.h; `now` is the loop clock). Without a call, no limits.
  struct connect_limits {
    uint32_t max_channel_length = 0;  // 0: no limit
    uint32_t max_user_id_length = 0;
    ip_limits* per_ip = nullptr;
    std::function<uint64_t()> now;
  };
  void set_connect_limits(connect_limits l) { limits_ = std::move(l); }

  // --- History (README "History and connection state recovery"; worker/history_store.h) ------
  // Off unless the worker turns it on: each `chat` is then appended to its room's history, and
  // a `history` event with an ack is answered (later, from Redis) with the room's last messages.
  void enable_history(history_store* h) { history_ = h; }

  // --- Delivery latency (worker/delivery_timer.h) ------------------------------------------
  // Told of every broadcast that queued frames to a local client; none: not measured.
  void set_delivery_timer(delivery_timer* t) { delivery_ = t; }

  // --- Connection state recovery (worker/recovery.h, worker/stream_publisher.h) -------------
  // Off unless the worker turns it on: every text broadcast is then recorded in the namespace
  // stream by `pub` and reaches this worker's members too only when Redis hands it back (stream
  // order, the offset last); CONNECTs asking for a restore go through `rec` first.
  void enable_recovery(recovery* rec, stream_publisher* pub) {
    recovery_ = rec;
    stream_pub_ = pub;
  }
  // Registers m and joins its rooms (its channel, plus a restored record's), then answers its
  // CONNECT once they are subscribed: on_connect's work, and what a restore proceeds with.
  void connect_member(member& m, const recovery_wire::session_record* restored);

  size_t sessions() const { return by_sid_.size(); }
  rooms& room_registry() { return rooms_; }

  // --- The local side of another node's requests (worker/adapter_node) -------------------------
  // As socket.io-adapter's apply(): the local sockets in any of `in` (every socket when `in` is
  // empty) and in none of `except`. A socket id names that socket's own room.
  std::vector<member*> select(const std::vector<std::string>& in,
                              const std::vector<std::string>& except);
  member* find(std::string_view sid);
  // Every room with local members, each socket's own id room included, as allRooms() sees them.
  std::vector<std::string> all_rooms() const;
  // m's rooms as a Node server lists them: its own id first, then the rooms it joined in order.
  static std::vector<std::string> rooms_of(const member& m);
  // socket.join / socket.leave on behalf of another node. A socket's own id room is always
  // there: joining it does nothing and leaving it is refused (false).
  bool join(member& m, std::string_view room);
  bool leave(member& m, std::string_view room);
  // Sends pre-framed packet frames to each member; how many took them.
  size_t send_to(const std::vector<member*>& to, const std::vector<shared_bytes>& frames);

  // Where a client's ACK goes, and who hears of a socket leaving (both: the adapter node).
  std::function<void(member&, int64_t, std::string_view, std::vector<std::string>)> ack_sink;
  std::function<void(member&)> leave_sink;
  // Who is in a room on every node (the adapter's fetchSockets, worker/who.h): `reply` runs once
  // with the answer's JSON object. Unset: `who` is answered with an error.
  using who_reply = std::function<void(std::string answer_json)>;
  std::function<void(std::string room, who_reply reply)> who_sink;

 private:
  // The rooms a broadcast from m names: every room m is in but its own id room, and its channel
  // even when another node's socketsLeave took it out (the seed's client.to(channel)), unless
  // the socket left it itself (`leave`).
  // `channel_fallback` false: only the rooms it is in (its disconnect's logout).
  std::vector<std::string> target_rooms(const member& m, bool channel_fallback = true) const;
  // Frames once and hands to each local member of `rooms` but `from`, each once.
  template <class Send>
  uint64_t fan_out(member& from, const std::vector<std::string>& rooms, Send&& send);
  // Delivers ["<event>",arg] to the local members of `rooms` but `from` and publishes it on the
  // bus for the other nodes; true when the bus took the publish. `rooms` must not be empty: to
  // the adapter, no rooms means every socket.
  // `history_payload`: what the rooms' history keeps of it (empty: nothing).
  bool broadcast_to(member& from, std::vector<std::string> rooms, std::string_view event_prefix,
                    std::string_view event, std::string_view arg_json,
                    std::string_view history_payload = {});
  // The handshake query as `login` / `logout` carry it (verified: userId the token's, no token).
  std::string_view login_payload(const member& m, std::string& storage) const;
  // --- worker/chat_rooms.cpp ---
  // The room a join / leave / who names (its argument "room" or {"room":"…"}), or why not.
  struct room_arg {
    std::string room;
    std::string error;
  };
  room_arg room_of_arg(std::string_view first_arg_json, bool optional_room) const;
  // Answers a join / leave / who: an ACK when asked for (ack_buf_), else an `error` event.
  ack_args answer(member& m, int64_t ack_id, std::string_view event, const std::string& error);
  ack_args on_join(member& m, std::string_view arg, int64_t ack_id);
  ack_args on_leave(member& m, std::string_view arg, int64_t ack_id);
  ack_args on_who(member& m, std::string_view arg, int64_t ack_id);
  // [{"room":…,"rooms":[…]}] into ack_buf_.
  ack_args rooms_ack(const member& m, std::string_view room);
  // Sends the join ACKs that wait for `room`'s subscription (every room's: nullopt).
  void release_join_acks(std::optional<std::string_view> room);
  // The next message id: this node's uid and a counter.
  std::string_view next_message_id();
  // Whether r has a member other than m (the sender may have left its channel).
  static bool has_others(const room* r, const member& m);
  // Queues a packet's frames on one member; false when the member refused the first.
  static bool send_all(member& m, const std::vector<shared_bytes>& frames);
  void finish_connect(member& m);
  // Why m's CONNECT is refused (counted), or an empty string.
  std::string refusal(member& m);
  // A verified member's `message` payload as it is relayed: unchanged when its userId is the
  // member's user, else rewritten into `storage` or refused (nullopt, the sender told).
  std::optional<std::string_view> payload_of(member& m, std::string_view payload, std::string& storage);

  // `history`: answered later by history_store, or refused now (the ACK's arguments).
  ack_args request_history(member& m, std::string_view arg_json, int64_t ack_id);

  worker_stats& stats_;
  bus_port* bus_;
  history_store* history_ = nullptr;
  delivery_timer* delivery_ = nullptr;
  recovery* recovery_ = nullptr;
  stream_publisher* stream_pub_ = nullptr;
  std::string ack_storage_;  // a refused `history`'s ACK arguments, until the next call
  bool socket_rooms_;
  user_id_rule user_id_rule_;
  rooms rooms_;
  // Keys view the session's own id storage (alive while registered).
  std::unordered_map<std::string_view, member*, string_hash, std::equal_to<>> by_sid_;
  uint64_t mark_ = 0;
  connect_limits limits_;
  std::string node_uid_;        // the bus's uid (random per worker process), "local" without one
  uint64_t message_counter_ = 0;
  std::string message_id_;      // the last stamp's id
  std::string stamp_buf_;       // the stamped payload, reused across messages
  std::string ack_buf_;         // the last ACK's arguments (valid until the next call)
  // Sockets that left their handshake channel themselves (`leave`), by id (views of the
  // member's storage, erased at its disconnect): a message no longer falls back to it.
  std::unordered_set<std::string_view, string_hash, std::equal_to<>> left_channel_;
  // Sessions whose CONNECT answer waits for their room's subscription, by room.
  std::unordered_map<std::string, std::vector<member*>, string_hash, std::equal_to<>> pending_;
  // Join ACKs that wait for their room's subscription (as the CONNECT answer does), by room; the
  // socket by id, so one that goes meanwhile is not answered.
  struct waiting_ack {
    std::string sid;
    int64_t ack_id = -1;
    std::string args_json;
  };
  std::unordered_map<std::string, std::vector<waiting_ack>, string_hash, std::equal_to<>> join_acks_;
};

}  // namespace chatd
