// The bus' publisher link (see bus_publisher.h): pipelined PUBLISH under two caps.

#include "worker/bus_publisher.h"

#include "common/log.h"
#include "worker/bus_common.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

namespace chatd {
namespace {

// Unsent PUBLISH bytes allowed in hiredis' output buffer: about a third of a second of the
// measured pipelined PUBLISH rate at 200-byte messages; beyond it Redis is not keeping up.
constexpr size_t k_max_output_bytes = 32u << 20;
// PUBLISH replies outstanding: each holds a hiredis callback record until Redis answers.
constexpr size_t k_max_unanswered = 1u << 18;

}  // namespace

bus_publisher::bus_publisher(uv_loop_t* loop, redis_link& link, std::string prefix,
                             std::string uid, worker_stats* stats)
    : loop_(loop),
      link_(link),
      prefix_(std::move(prefix)),
      uid_(std::move(uid)),
      stats_(stats),
      base_channel_(wire::broadcast_channel(prefix_, k_bus_nsp)) {}

bool bus_publisher::drop(std::string_view why) {
  bus_count(stats_, &worker_stats::bus_publish_dropped_total);
  drop_log_(uv_now(loop_), [&](uint64_t suppressed) {
    log::warn("redis bus: broadcast dropped ({}): delivered on this worker only ({} more dropped "
              "since the last line)",
              why, suppressed);
  });
  return false;
}

bool bus_publisher::publish(wire::broadcast b) {
  // Down: drop before paying for the encoding.
  if (stopped_ || !link_.ready()) {
    return drop("Redis down");
  }
  b.uid = uid_;
  auto bytes = wire::encode_broadcast(b);
  if (!bytes) {
    error_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: cannot encode a broadcast: {} ({} more suppressed)", bytes.error(),
                suppressed);
    });
    return drop("cannot encode");
  }
  std::string room_channel;
  std::string_view channel = base_channel_;
  if (b.rooms.size() == 1) {
    room_channel = wire::room_channel(prefix_, k_bus_nsp, b.rooms.front());
    channel = room_channel;
  }
  if (!enqueue(channel, *bytes)) {
    return drop("Redis not keeping up");
  }
  bus_count(stats_, &worker_stats::bus_published_total);
  return true;
}

bool bus_publisher::publish_raw(std::string_view channel, std::string_view bytes) {
  return enqueue(channel, bytes);
}

bool bus_publisher::enqueue(std::string_view channel, std::string_view bytes) {
  redisAsyncContext* ctx = stopped_ ? nullptr : link_.context();
  if (ctx == nullptr) {
    return false;
  }
  const size_t unsent = ctx->c.obuf != nullptr ? sdslen(ctx->c.obuf) : 0;
  if (unanswered_ >= k_max_unanswered || unsent + bytes.size() > k_max_output_bytes) {
    if (!over_cap_) {
      over_cap_ = true;
      log::warn("redis bus: Redis is not keeping up ({} replies outstanding, {} bytes unsent); "
                "dropping publishes until it does",
                unanswered_, unsent);
    }
    return false;
  }
  if (over_cap_) {
    over_cap_ = false;
    log::info("redis bus: Redis keeps up again; publishing resumed");
  }
  const char* argv[] = {"PUBLISH", channel.data(), bytes.data()};
  const size_t lens[] = {7, channel.size(), bytes.size()};
  if (redisAsyncCommandArgv(ctx, on_reply, this, 3, argv, lens) != REDIS_OK) {
    return false;
  }
  ++unanswered_;
  return true;
}

void bus_publisher::numsub(std::string_view channel, count_handler done) {
  redisAsyncContext* ctx = stopped_ ? nullptr : link_.context();
  if (ctx == nullptr) return done(std::nullopt);
  auto pending = std::make_unique<count_handler>(std::move(done));
  const char* argv[] = {"PUBSUB", "NUMSUB", channel.data()};
  const size_t lens[] = {6, 6, channel.size()};
  if (redisAsyncCommandArgv(ctx, on_numsub, pending.get(), 3, argv, lens) != REDIS_OK) {
    return (*pending)(std::nullopt);
  }
  (void)pending.release();  // on_numsub owns it now
}

void bus_publisher::on_numsub(redisAsyncContext*, void* r, void* privdata) noexcept {
  std::unique_ptr<count_handler> done(static_cast<count_handler*>(privdata));
  auto* reply = static_cast<redisReply*>(r);
  // [channel, count]
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[1]->type != REDIS_REPLY_INTEGER) {
    return (*done)(std::nullopt);
  }
  (*done)(reply->element[1]->integer);
}

void bus_publisher::flush() {
  if (!stopped_) {
    link_.flush();
  }
}

void bus_publisher::on_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
  auto* self = static_cast<bus_publisher*>(privdata);
  if (self->unanswered_ > 0) {
    --self->unanswered_;
  }
  auto* reply = static_cast<redisReply*>(r);
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
    self->error_log_(uv_now(self->loop_), [&](uint64_t suppressed) {
      log::warn("redis bus: PUBLISH refused: {} ({} more suppressed)",
                std::string_view(reply->str, reply->len), suppressed);
    });
  }
}

}  // namespace chatd
