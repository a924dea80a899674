// One Redis command with a callback (see redis_command.h).

#include "worker/redis_command.h"

#include <memory>
#include <vector>

namespace chatd {
namespace {

void on_reply(redisAsyncContext*, void* r, void* privdata) noexcept {
  std::unique_ptr<redis_reply_handler> done(static_cast<redis_reply_handler*>(privdata));
  (*done)(static_cast<const redisReply*>(r));
}

}  // namespace

void redis_command(redis_link& link, std::initializer_list<std::string_view> args,
                   redis_reply_handler done) {
  redisAsyncContext* ctx = link.context();
  if (ctx == nullptr) return done(nullptr);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto pending = std::make_unique<redis_reply_handler>(std::move(done));
  if (redisAsyncCommandArgv(ctx, on_reply, pending.get(), static_cast<int>(argv.size()),
                            argv.data(), lens.data()) != REDIS_OK) {
    return (*pending)(nullptr);
  }
  (void)pending.release();  // on_reply owns it now
}

redis_commander commander_of(redis_link& link) {
  return [&link](std::string_view, std::initializer_list<std::string_view> args,
                 redis_reply_handler done) { redis_command(link, args, std::move(done)); };
}

}  // namespace chatd
