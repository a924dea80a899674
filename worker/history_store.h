#pragma once
// A room's recent `chat` messages (config history:; README "History and connection state
// recovery"): a Redis stream "<key>#<nsp>#<room>#history" per room, each entry's `data` the
// payload as it was delivered, bounded by count (MAXLEN ~ history.max_messages) and by age
// (older entries are not served; the stream expires history.max_age after its last message).
// With recovery on, the publish script appends to it under the broadcast's own id
// (worker/stream_publisher.h); with recovery off, append() does.
//
// A member asks with emitWithAck("history", {room?, limit?}) and gets [[p1, p2, ...]], oldest
// first, or [{"error": why}] (not one of its rooms, a bad argument, Redis away). A member may
// leave while its query is in flight: queries name it by token.

#include "common/history_request.h"
#include "worker/member.h"
#include "worker/redis_command.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatd {

class history_store {
 public:
  struct settings {
    std::string key;              // redis.key
    uint32_t max_messages = 100;  // 0: history off
    uint32_t max_age_ms = 3600000;
  };
  // `send` reaches the room streams: the bus' publisher link, or the cluster's nodes; what it
  // refers to must outlive this object.
  history_store(redis_commander send, settings s);
  history_store(const history_store&) = delete;
  history_store& operator=(const history_store&) = delete;

  bool enabled() const { return s_.max_messages > 0; }
  uint32_t max_messages() const { return s_.max_messages; }
  // Appends `payload` to `room`'s history (recovery off; pipelined, not waited for).
  void append(std::string_view nsp, std::string_view room, std::string_view payload);
  // Answers m's `history` event (ack id `ack_id`) with the ACK described above. `room` has been
  // checked to be one of m's rooms.
  void query(member& m, std::string_view room, uint32_t limit, int64_t ack_id);
  // m left: answers still in flight for it go nowhere.
  void forget(const member& m);
  // The refusal ACK's arguments for `why`.
  static std::string error_args(std::string_view why);

 private:
  redis_commander send_;
  settings s_;
  std::string max_messages_;
  std::string max_age_;
  uint64_t next_token_ = 0;
  std::unordered_map<uint64_t, member*> waiting_;
};

}  // namespace chatd
