// Recorded broadcasts through one Lua script each (see stream_publisher.h).

#include "worker/stream_publisher.h"

#include "common/log.h"
#include "worker/bus_common.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <openssl/evp.h>

#include <fmt/format.h>

#include <array>

namespace chatd {
namespace {

// The same caps as bus_publisher's PUBLISHes (see there): beyond them Redis is not keeping up.
constexpr size_t k_max_output_bytes = 32u << 20;
constexpr size_t k_max_unanswered = 1u << 18;

// KEYS[1] the namespace stream, KEYS[2] the pub/sub channel, KEYS[3] the room's history stream
// (only with history). ARGV: uid, nsp, entry data, message head, message tail, namespace
// MAXLEN, then with history: payload, room MAXLEN, room expiry (ms).
// The id is spliced into the msgpack message as a str (fixstr below 32 bytes, else str8: an id
// is at most 41 bytes). The history XADD reuses the id, so a room's entries are named by the
// offsets their clients saw; pcall: a room stream that somehow holds a later id (a namespace
// stream deleted and the clock set back) loses that one history entry, not the broadcast.
constexpr std::string_view k_script = R"lua(local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'uid', ARGV[1], 'nsp', ARGV[2], 'type', '3', 'data', ARGV[3])
local n = #id
local h
if n < 32 then h = string.char(160 + n) else h = string.char(217, n) end
redis.call('PUBLISH', KEYS[2], ARGV[4] .. h .. id .. ARGV[5])
if KEYS[3] then
  redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], id, 'data', ARGV[7])
  redis.call('PEXPIRE', KEYS[3], ARGV[9])
end
return id)lua";

std::string sha1_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha1(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

bool is_noscript(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT");
}

}  // namespace

const std::string& stream_publisher::script() {
  static const std::string s(k_script);
  return s;
}

const std::string& stream_publisher::script_sha() {
  static const std::string sha = sha1_hex(k_script);
  return sha;
}

stream_publisher::stream_publisher(uv_loop_t* loop, redis_link& link, std::string uid,
                                   worker_stats* stats, settings s)
    : loop_(loop),
      link_(link),
      uid_(std::move(uid)),
      stats_(stats),
      s_(std::move(s)),
      stream_key_(recovery_wire::namespace_stream_key(s_.key)),
      max_entries_(std::to_string(s_.max_entries)),
      history_max_(std::to_string(s_.history_max_messages)),
      history_age_(std::to_string(s_.history_max_age_ms)),
      base_channel_(wire::broadcast_channel(s_.key, k_bus_nsp)) {}

bool stream_publisher::drop(std::string_view why) {
  bus_count(stats_, &worker_stats::bus_publish_dropped_total);
  drop_log_(uv_now(loop_), [&](uint64_t suppressed) {
    log::warn("redis bus: recorded broadcast dropped ({}): delivered on this worker only, without "
              "an offset ({} more dropped since the last line)",
              why, suppressed);
  });
  return false;
}

bool stream_publisher::publish(wire::broadcast& b, std::string_view history_payload) {
  if (stopped_ || !link_.ready()) return drop("Redis down");
  b.uid = uid_;
  auto rec = recovery_wire::record_broadcast(b);
  if (!rec) {
    error_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: cannot record a broadcast: {} ({} more suppressed)", rec.error(), suppressed);
    });
    return drop("cannot record");
  }
  pending p;
  p.channel = b.rooms.size() == 1 ? wire::room_channel(s_.key, k_bus_nsp, b.rooms.front()) : base_channel_;
  if (!history_payload.empty() && s_.history_max_messages > 0 && b.rooms.size() == 1) {
    p.history_key = recovery_wire::history_stream_key(s_.key, k_bus_nsp, b.rooms.front());
    p.history_payload.assign(history_payload);
  }
  p.rec = std::move(*rec);
  if (recovering_noscript_) {
    held_.push_back(std::move(p));
  } else if (!send(p, false)) {
    return drop("Redis not keeping up");
  } else {
    in_flight_.push_back(std::move(p));
  }
  bus_count(stats_, &worker_stats::bus_published_total);
  return true;
}

bool stream_publisher::send(pending& p, bool eval) {
  redisAsyncContext* ctx = stopped_ ? nullptr : link_.context();
  if (ctx == nullptr) return false;
  const size_t unsent = ctx->c.obuf != nullptr ? sdslen(ctx->c.obuf) : 0;
  const size_t size = p.rec.entry_data.size() + p.rec.message_head.size() + p.history_payload.size();
  if (in_flight_.size() >= k_max_unanswered || unsent + size > k_max_output_bytes) {
    if (!over_cap_) {
      over_cap_ = true;
      log::warn("redis bus: Redis is not keeping up ({} scripts outstanding, {} bytes unsent); "
                "dropping recorded broadcasts until it does",
                in_flight_.size(), unsent);
    }
    return false;
  }
  over_cap_ = false;
  const bool history = !p.history_key.empty();
  std::array<std::string_view, 15> args;
  size_t n = 0;
  args[n++] = eval ? "EVAL" : "EVALSHA";
  args[n++] = eval ? std::string_view(script()) : std::string_view(script_sha());
  args[n++] = history ? "3" : "2";
  args[n++] = stream_key_;
  args[n++] = p.channel;
  if (history) args[n++] = p.history_key;
  args[n++] = uid_;
  args[n++] = k_bus_nsp;
  args[n++] = p.rec.entry_data;
  args[n++] = p.rec.message_head;
  args[n++] = p.rec.message_tail;
  args[n++] = max_entries_;
  if (history) {
    args[n++] = p.history_payload;
    args[n++] = history_max_;
    args[n++] = history_age_;
  }
  std::array<const char*, 15> argv;
  std::array<size_t, 15> lens;
  for (size_t i = 0; i < n; ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  return redisAsyncCommandArgv(ctx, on_reply, this, static_cast<int>(n), argv.data(), lens.data()) == REDIS_OK;
}

void stream_publisher::on_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
  static_cast<stream_publisher*>(privdata)->on_answer(static_cast<redisReply*>(r));
}

void stream_publisher::on_answer(redisReply* reply) {
  if (in_flight_.empty()) return;  // cannot happen: one reply per command sent
  pending p = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (is_noscript(reply)) {
    if (!recovering_noscript_) log::info("redis bus: the publish script is not loaded; sending it with EVAL");
    recovering_noscript_ = true;
    // Ahead of what was published after it, behind what failed before it.
    held_.insert(held_.begin() + static_cast<std::ptrdiff_t>(noscript_failed_), std::move(p));
    ++noscript_failed_;
  } else if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
    error_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: publish script refused: {} ({} more suppressed)",
                std::string_view(reply->str, reply->len), suppressed);
    });
  }
  if (recovering_noscript_ && in_flight_.empty()) resend_held();
}

void stream_publisher::resend_held() {
  recovering_noscript_ = false;
  noscript_failed_ = 0;
  std::deque<pending> all = std::move(held_);
  held_.clear();
  for (pending& p : all) {
    if (send(p, true)) {
      in_flight_.push_back(std::move(p));
    } else {
      drop("Redis down or not keeping up");
    }
  }
}

}  // namespace chatd
