#pragma once
// One Redis command with a callback, on a redis_link: for the few commands whose answer matters
// to one caller (a session restore, a history query), not for the per-broadcast hot path.
// The callback always runs exactly once: with the reply, or with nullptr when the link is down
// (then at once, from inside the call) or drops before answering (hiredis calls back with no
// reply). The reply is valid during the call only. Callers hold no pointer to anything that
// may go away in the meantime: they capture a token and look it up.

#include "worker/redis_uv.h"

#include <hiredis/hiredis.h>

#include <functional>
#include <initializer_list>
#include <string_view>

namespace chatd {

using redis_reply_handler = std::function<void(const redisReply* reply)>;

// Sends `args` (binary-safe) on `link`.
void redis_command(redis_link& link, std::initializer_list<std::string_view> args,
                   redis_reply_handler done);

// Where a command about one key goes: a single Redis link (redis.mode standalone), or the cluster
// node that owns the key's slot (cluster mode, worker/shard_pubsub.h). Same contract as
// redis_command: `done` runs exactly once.
using redis_commander = std::function<void(std::string_view key,
                                           std::initializer_list<std::string_view> args,
                                           redis_reply_handler done)>;
// Every command on `link`, which must outlive the result.
redis_commander commander_of(redis_link& link);

}  // namespace chatd
