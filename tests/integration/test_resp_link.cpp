// Integration tests of worker/resp_link (the Redis Cluster transport's RESP2 connection) against a
// real standalone Redis 7 (sharded pub/sub works there too) and fake nodes: pushes, the handler
// FIFO, loss, timeouts, AUTH, an oversized reply. Part of the it_shard_pubsub binary. Every wait
// is bounded; every test ends with no handle left on its loop.

#include "common/config.h"
#include "tests/integration/redis_test_util.h"
#include "worker/resp_link.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace chatd;
using namespace chatd::test;

TEST_SUITE_BEGIN("resp_link");

TEST_CASE("resp_link: SSUBSCRIBE, SPUBLISH and the smessage push on a standalone Redis 7") {
  quiet_logs quiet;
  standalone redis;
  REQUIRE(redis.start());
  uv_loop_t loop{};
  uv_loop_init(&loop);
  {
    std::vector<std::string> pushes;
    int downs = 0;
    resp_link sub(&loop, redis.endpoint(), 1000, "sub",
                  {nullptr, [&](const std::string&) { ++downs; },
                   [&](const resp_link::push& p) {
                     pushes.push_back(fmt::format("{} {} {}", p.kind, p.channel, p.payload));
                   }});
    resp_link pub(&loop, redis.endpoint(), 1000, "pub", {});
    sub.connect();
    pub.connect();
    REQUIRE(run_until(&loop, [&] { return sub.ready() && pub.ready(); }));

    std::string confirmation;
    REQUIRE(sub.command({"SSUBSCRIBE", "news"}, [&](const redisReply* r) {
      REQUIRE(r != nullptr);
      REQUIRE(r->type == REDIS_REPLY_ARRAY);
      confirmation = std::string(r->element[0]->str, r->element[0]->len) + " " +
                     std::string(r->element[1]->str, r->element[1]->len);
    }));
    CHECK_FALSE(sub.command({"SSUBSCRIBE", "a", "b"}, nullptr));  // one channel per command
    REQUIRE(run_until(&loop, [&] { return !confirmation.empty(); }));
    CHECK(confirmation == "ssubscribe news");

    long long receivers = -1;
    REQUIRE(pub.command({"SPUBLISH", "news", std::string_view("hel\0lo", 6)},
                        [&](const redisReply* r) { receivers = r != nullptr ? r->integer : -2; }));
    REQUIRE(run_until(&loop, [&] { return !pushes.empty() && receivers >= 0; }));
    CHECK(receivers == 1);
    CHECK(pushes.front() == std::string("smessage news hel\0lo", 20));

    // Pipelined commands answer their handlers in order, written in one go.
    std::vector<std::string> echoes;
    for (int i = 0; i < 2000; ++i) {
      const std::string v = std::to_string(i);
      REQUIRE(pub.command({"ECHO", v}, [&](const redisReply* r) {
        echoes.emplace_back(r != nullptr ? std::string(r->str, r->len) : "null");
      }));
    }
    CHECK(pub.pending() == 2000);
    CHECK(pub.unsent_bytes() > 0);
    REQUIRE(run_until(&loop, [&] { return echoes.size() == 2000; }));
    bool ordered = true;
    for (int i = 0; i < 2000; ++i) ordered = ordered && echoes[i] == std::to_string(i);
    CHECK(ordered);
    CHECK(pub.pending() == 0);

    std::string unsub;
    REQUIRE(sub.command({"SUNSUBSCRIBE", "news"}, [&](const redisReply* r) {
      unsub = r != nullptr ? std::string(r->element[0]->str, r->element[0]->len) : "null";
    }));
    REQUIRE(run_until(&loop, [&] { return !unsub.empty(); }));
    CHECK(unsub == "sunsubscribe");
    CHECK(pushes.size() == 1);  // the confirmation answered its handler: no push
    CHECK(downs == 0);
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("resp_link: pending handlers get nullptr when the link goes; on_down comes once per loss") {
  quiet_logs quiet;
  standalone redis;
  REQUIRE(redis.start());
  uv_loop_t loop{};
  uv_loop_init(&loop);
  {
    std::vector<std::string> downs;
    auto link = std::make_unique<resp_link>(&loop, redis.endpoint(), 1000, "pub",
                                            resp_link::callbacks{nullptr, [&](const std::string& why) {
                                                                   downs.push_back(why);
                                                                 }, nullptr});
    link->connect();
    REQUIRE(run_until(&loop, [&] { return link->ready(); }));
    int nulls = 0;
    REQUIRE(link->command({"BLPOP", "nothing-here", "0"}, [&](const redisReply* r) { nulls += r == nullptr; }));
    REQUIRE(link->command({"BLPOP", "nothing-here", "0"}, [&](const redisReply* r) { nulls += r == nullptr; }));
    run_for(&loop, 50);
    link.reset();  // destroyed with two commands pending
    CHECK(nulls == 2);
    CHECK(downs.empty());

    // A server that dies: on_down once, then the pending handler with nullptr.
    resp_link other(&loop, redis.endpoint(), 1000, "pub",
                    {nullptr, [&](const std::string& why) { downs.push_back(why); }, nullptr});
    other.connect();
    REQUIRE(run_until(&loop, [&] { return other.ready(); }));
    int after_down = -1;
    REQUIRE(other.command({"BLPOP", "nothing-here", "0"}, [&](const redisReply* r) {
      after_down = r == nullptr ? static_cast<int>(downs.size()) : -2;
    }));
    run_for(&loop, 50);
    redis.proc.kill_now();
    REQUIRE(run_until(&loop, [&] { return !downs.empty(); }));
    CHECK(downs.size() == 1);
    CHECK(after_down == 1);
    CHECK(other.idle());
    CHECK(downs.front().find(fmt::format("127.0.0.1:{}", redis.port)) != std::string::npos);
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("resp_link: a refused connect and a node that never answers the PING are reported") {
  quiet_logs quiet;
  uv_loop_t loop{};
  uv_loop_init(&loop);
  {
    redis_endpoint nowhere;
    nowhere.host = "127.0.0.1";
    nowhere.port = free_port();
    std::string refused;
    resp_link a(&loop, nowhere, 1000, "pub", {nullptr, [&](const std::string& w) { refused = w; }, nullptr});
    a.connect();
    REQUIRE(run_until(&loop, [&] { return !refused.empty(); }));
    CHECK(refused.find("connect") != std::string::npos);

    // A socket that listens and never accepts: the kernel completes the handshake, no PONG.
    sockaddr_in addr{};
    int fd = listen_loopback(4, addr);
    REQUIRE(fd >= 0);
    redis_endpoint mute = nowhere;
    mute.port = ntohs(addr.sin_port);
    std::string timed_out;
    resp_link b(&loop, mute, 200, "pub", {[&] { timed_out = "ready?"; }, [&](const std::string& w) { timed_out = w; }, nullptr});
    b.connect();
    REQUIRE(run_until(&loop, [&] { return !timed_out.empty(); }, 3000));
    CHECK(timed_out.find("timed out after 200 ms") != std::string::npos);
    close(fd);
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("resp_link: a reply declaring a huge array ends the connection instead of allocating it") {
  quiet_logs quiet;
  sockaddr_in addr{};
  const int lfd = listen_loopback(4, addr);
  REQUIRE(lfd >= 0);
  // A fake node: answers the PING with a 420-million-element array header, then waits.
  std::thread node([lfd] {
    const int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) return;
    char buf[64];
    if (read(fd, buf, sizeof buf) > 0) {
      const char header[] = "*420521903\r\n";
      (void)!write(fd, header, sizeof header - 1);
    }
    usleep(500000);
    close(fd);
  });
  uv_loop_t loop{};
  uv_loop_init(&loop);
  {
    redis_endpoint e;
    e.host = "127.0.0.1";
    e.port = ntohs(addr.sin_port);
    std::string why;
    resp_link link(&loop, e, 1000, "pub", {nullptr, [&](const std::string& w) { why = w; }, nullptr});
    link.connect();
    REQUIRE(run_until(&loop, [&] { return !why.empty(); }, 3000));
    CHECK(why.find("more than") != std::string::npos);
  }
  node.join();
  close(lfd);
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("resp_link: AUTH with the endpoint's password comes first; a wrong one is refused") {
  quiet_logs quiet;
  standalone redis;
  REQUIRE(redis.start("s3cret"));
  uv_loop_t loop{};
  uv_loop_init(&loop);
  {
    redis_endpoint good = redis.endpoint();
    good.password = "s3cret";
    resp_link a(&loop, good, 1000, "pub", {});
    a.connect();
    REQUIRE(run_until(&loop, [&] { return a.ready(); }));
    std::string pong;
    REQUIRE(a.command({"PING"}, [&](const redisReply* r) { pong = r != nullptr ? r->str : "null"; }));
    REQUIRE(run_until(&loop, [&] { return !pong.empty(); }));
    CHECK(pong == "PONG");

    redis_endpoint bad = good;
    bad.password = "wrong";
    std::string why;
    resp_link b(&loop, bad, 1000, "pub", {nullptr, [&](const std::string& w) { why = w; }, nullptr});
    b.connect();
    REQUIRE(run_until(&loop, [&] { return !why.empty(); }));
    CHECK(why.find("AUTH refused") != std::string::npos);
    CHECK_FALSE(b.ready());
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_SUITE_END();
