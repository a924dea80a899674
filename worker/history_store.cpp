// A room's recent `chat` messages in a Redis stream (see history_store.h).

#include "worker/history_store.h"

#include "common/json_text.h"
#include "common/recovery_wire.h"
#include "common/socketio.h"
#include "worker/frame.h"
#include "worker/redis_command.h"

#include <chrono>

namespace chatd {

history_store::history_store(redis_commander send, settings s)
    : send_(std::move(send)),
      s_(std::move(s)),
      max_messages_(std::to_string(s_.max_messages)),
      max_age_(std::to_string(s_.max_age_ms)) {}

std::string history_store::error_args(std::string_view why) {
  std::string out = R"([{"error":)";
  append_json_string(out, why);
  out += "}]";
  return out;
}

void history_store::append(std::string_view nsp, std::string_view room, std::string_view payload) {
  if (!enabled()) return;
  const std::string key = recovery_wire::history_stream_key(s_.key, nsp, room);
  send_(key, {"XADD", key, "MAXLEN", "~", max_messages_, "*", "data", payload},
        [](const redisReply*) {});
  send_(key, {"PEXPIRE", key, max_age_}, [](const redisReply*) {});
}

void history_store::query(member& m, std::string_view room, uint32_t limit, int64_t ack_id) {
  const uint64_t token = ++next_token_;
  waiting_.emplace(token, &m);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const uint64_t oldest = static_cast<uint64_t>(now) > s_.max_age_ms ? static_cast<uint64_t>(now) - s_.max_age_ms : 0;
  const std::string key = recovery_wire::history_stream_key(s_.key, m.nsp(), room);
  send_(key, {"XREVRANGE", key, "+", std::to_string(oldest) + "-0", "COUNT", std::to_string(limit)},
                [this, token, ack_id](const redisReply* r) {
                  auto it = waiting_.find(token);
                  if (it == waiting_.end()) return;
                  member& m = *it->second;
                  waiting_.erase(it);
                  std::string args;
                  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
                    args = error_args(r != nullptr && r->type == REDIS_REPLY_ERROR
                                          ? std::string_view(r->str, r->len) : "history unavailable: Redis is down");
                  } else {
                    // Newest first from XREVRANGE: turned around, oldest first.
                    args = "[[";
                    bool first = true;
                    for (size_t i = r->elements; i-- > 0;) {
                      const redisReply* e = r->element[i];
                      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
                      const redisReply* f = e->element[1];
                      for (size_t k = 0; k + 1 < f->elements; k += 2) {
                        if (std::string_view(f->element[k]->str, f->element[k]->len) != "data") continue;
                        if (!first) args += ',';
                        first = false;
                        args.append(f->element[k + 1]->str, f->element[k + 1]->len);
                      }
                    }
                    args += "]]";
                  }
                  m.send(make_text_frame({sio::encode_ack(m.nsp(), ack_id, args)}));
                });
}

void history_store::forget(const member& m) {
  std::erase_if(waiting_, [&](const auto& kv) { return kv.second == &m; });
}

}  // namespace chatd
