#pragma once
// Socket.IO connection state recovery for the chat application (socket.io 4.6's
// connectionStateRecovery; README "History and connection state recovery"): the session
// records in Redis and the restore of a socket that comes back.
//
// Records. Every socket accepted with recovery on gets a pid (sent in the CONNECT reply) and a
// record "<key>:session:<pid>" = {sid, pid, rooms}, written at once and again whenever its
// rooms change, so a worker killed with -9 leaves it behind. While the socket is connected the
// record is written again every refresh interval (max_disconnection / 2); when the
// socket leaves, it expires max_disconnection later. A crashed worker's records therefore live
// between max_disconnection and max_disconnection + the interval after the crash.
//
// Restore. A CONNECT whose auth carries a pid and an offset (a stream id) asks for one:
//   1. GETDEL the record and XRANGE the offset itself, pipelined: no record, or the offset
//      trimmed away, and the socket connects afresh (a new sid and pid: recovered false);
//   2. the socket takes the record's sid, the application registers it and joins its rooms,
//      and from then on every live delivery to it is held (member::held_), not sent;
//   3. once the rooms' subscriptions are confirmed (the application calls accept()), the
//      namespace stream is read after the offset in batches, each batch checked to still
//      follow the previous one (a Lua script: the cursor entry must exist), and the entries for
//      the socket's rooms (not those excluding it: its own messages) become packets with their
//      id as the last argument;
//   4. the CONNECT reply goes with the same pid (the client sets recovered), then the replayed
//      packets, then the held ones whose offset is past the last entry read (those at or below
//      were in the replay, or not for this socket); then it is live, except that live copies
//      at or below that entry are still dropped until the first one past it arrives (the
//      subscriber link may deliver an entry after the read on the publisher link saw it).
// Stream order is pub/sub order (stream_publisher.h), so what the socket gets is every
// broadcast after its offset, in order, once. If the stream cannot be read in step 3 (Redis
// lost, the cursor trimmed meanwhile), the socket keeps its sid and rooms but gets a new pid:
// the client sees recovered false, which is the truth.
//
// Members are named to Redis callbacks by a token, never by pointer alone: a socket may leave
// while its restore is in flight.

#include "common/recovery_wire.h"
#include "worker/frame.h"
#include "worker/member.h"
#include "worker/owned_timer.h"
#include "worker/redis_uv.h"

#include <uv.h>

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

class recovery {
 public:
  struct settings {
    std::string key;                       // redis.key
    uint32_t max_disconnection_ms = 120000;
    unsigned slot = 0;                     // for the pids' generator
  };
  struct hooks {
    // The outcome of begin_restore(): the record (the member already carries its sid) or
    // nullptr (connect it afresh). The application registers the member and joins its rooms.
    std::function<void(member&, const recovery_wire::session_record*)> proceed;
    // The member's rooms as socket.rooms lists them, its own id first (the record's rooms).
    std::function<std::vector<std::string>(const member&)> rooms_of;
    // A sid that a socket of this worker still holds (the old socket of a restore whose client
    // came back before the old connection was noticed gone): it is disconnected first.
    std::function<void(std::string_view sid)> evict;
  };
  // `commands`: the bus' publisher link (the same connection as the recorded broadcasts, which
  // keeps a restore's reads behind the scripts this worker sent before them).
  recovery(uv_loop_t* loop, redis_link& commands, settings s, hooks h);
  recovery(const recovery&) = delete;
  recovery& operator=(const recovery&) = delete;

  // A CONNECT: true when m asks for a restore (a pid and a stream-id offset in its auth) and
  // Redis is up to ask: hooks.proceed follows (not from inside this call). False: connect it
  // afresh now.
  bool begin_restore(member& m);
  // m's rooms are joined and subscribed: answer its CONNECT. A fresh socket gets a new pid and
  // its record; a restored one its replay first (the answer then comes later).
  void accept(member& m);
  // Whether m's CONNECT is a restore in progress (the application announces no login for it).
  bool restoring(const member& m) const { return restoring_.contains(const_cast<member*>(&m)); }
  // A live delivery to m while m.held_, with its offset (nullopt: a broadcast of a node that
  // does not record): kept until the replay has been sent; after it, sent unless the replay
  // covered it.
  void hold(member& m, std::optional<recovery_wire::stream_id> offset, std::vector<shared_bytes> frames);
  // m's rooms changed (a remote join or leave): its record is written again.
  void rooms_changed(const member& m);
  // m left. True when the application never saw it (its restore had not proceeded yet).
  bool on_disconnect(member& m);
  // Stops the refresh timer (the worker is finishing).
  void stop() { refresh_.close(); }

  // The restore's Lua read (tests run it against a real Redis): KEYS[1] the stream, ARGV[1]
  // the cursor, ARGV[2] the batch size; nil when the cursor entry is gone, else the entries
  // after it.
  static const std::string& read_script();

 private:
  using pid_text = std::array<char, 20>;
  struct restore_state {
    uint64_t token = 0;
    pid_text pid{};
    recovery_wire::stream_id cursor;         // the last entry read
    recovery_wire::stream_id client_offset;  // what the client said it had
    std::string record_text;  // what GETDEL answered (put back if the socket leaves mid-way)
    bool record_answered = false;
    bool proceeded = false;   // the application has the member (its sid is the record's)
    std::vector<std::string> rooms;  // the record's, the socket's own id first
    std::vector<shared_bytes> replay;
    struct held {
      std::optional<recovery_wire::stream_id> offset;
      std::vector<shared_bytes> frames;
    };
    std::vector<held> held_frames;
  };

  restore_state* find(member* m, uint64_t token);
  void on_offset_checked(member* m, uint64_t token, bool offset_exists);
  void read_batch(member& m, restore_state& st);
  void on_batch(member* m, uint64_t token, const redisReply* reply);
  // Sends the CONNECT reply with `pid`, then the replay (when restored) and what was held.
  void finish(member& m, restore_state& st, bool restored);
  void go_live(member& m, const pid_text& pid);
  void save_record(const member& m, std::string_view pid);
  std::string new_pid();
  static void on_refresh(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  redis_link& link_;
  settings s_;
  hooks h_;
  std::string stream_key_;
  std::string record_ttl_;      // while connected: max_disconnection + the refresh interval
  std::string disconnect_ttl_;  // after leaving: max_disconnection
  uint64_t next_token_ = 0;
  std::unordered_map<member*, restore_state> restoring_;
  std::unordered_map<member*, pid_text> live_;
  // Restored sockets whose live deliveries are still filtered: the last id their replay covered.
  std::unordered_map<member*, recovery_wire::stream_id> catching_up_;
  owned_timer refresh_;
};

}  // namespace chatd
