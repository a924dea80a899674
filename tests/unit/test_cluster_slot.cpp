// common/cluster_slot: key slots (Redis Cluster spec values), MOVED/ASK parsing, CLUSTER SLOTS
// replies read into a cluster_map. Replies are built from RESP text with hiredis' own reader.

#include "common/cluster_slot.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

using namespace chatd;

namespace {

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr resp(const std::string& text) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, text.data(), text.size());
  void* out = nullptr;
  const int rc = redisReaderGetReply(reader, &out);
  redisReaderFree(reader);
  REQUIRE(rc == REDIS_OK);
  REQUIRE(out != nullptr);
  return reply_ptr(static_cast<redisReply*>(out));
}

std::string bulk(const std::string& s) { return fmt::format("${}\r\n{}\r\n", s.size(), s); }
std::string node(const std::string& host, int port, const std::string& id) {
  return fmt::format("*3\r\n{}:{}\r\n{}", bulk(host), port, bulk(id));
}
std::string entry(int first, int last, const std::string& nodes, int count) {
  return fmt::format("*{}\r\n:{}\r\n:{}\r\n{}", 2 + count, first, last, nodes);
}

}  // namespace

TEST_CASE("key_slot matches the Redis Cluster specification's values") {
  CHECK(crc16_xmodem("123456789") == 0x31C3);
  CHECK(key_slot("123456789") == (0x31C3 & 16383));
  CHECK(key_slot("123456789") == 12739);
  CHECK(key_slot("foo") == 12182);
  CHECK(key_slot("bar") == 5061);
  CHECK(key_slot("") == 0);
}

TEST_CASE("key_slot hashes only the first non-empty hash tag") {
  CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
  CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
  // An empty tag is no tag: the whole key is hashed.
  CHECK(key_slot("foo{}{bar}") == crc16_xmodem("foo{}{bar}") % 16384);
  CHECK(key_slot("{}") == crc16_xmodem("{}") % 16384);
  // The first '}' after the first '{' closes the tag.
  CHECK(key_slot("foo{{bar}}zap") == key_slot("{bar"));
  CHECK(key_slot("foo{bar}{zap}") == key_slot("bar"));
  // No closing brace: the whole key.
  CHECK(key_slot("foo{bar") == crc16_xmodem("foo{bar") % 16384);
  CHECK(key_slot("socket.io#/#{room}#") == key_slot("room"));
}

TEST_CASE("parse_redirect reads MOVED and ASK") {
  auto m = parse_redirect("MOVED 3999 127.0.0.1:6381");
  REQUIRE(m.has_value());
  CHECK(m->kind == redirect_kind::moved);
  CHECK(m->slot == 3999);
  CHECK(m->host == "127.0.0.1");
  CHECK(m->port == 6381);

  auto a = parse_redirect("-ASK 16383 10.0.0.2:7000");
  REQUIRE(a.has_value());
  CHECK(a->kind == redirect_kind::ask);
  CHECK(a->slot == 16383);
  CHECK(a->host == "10.0.0.2");
  CHECK(a->port == 7000);
}

TEST_CASE("parse_redirect reads IPv6 hosts, bare or bracketed, and the empty host") {
  auto bare = parse_redirect("MOVED 1 ::1:6381");
  REQUIRE(bare.has_value());
  CHECK(bare->host == "::1");
  CHECK(bare->port == 6381);
  auto bracketed = parse_redirect("MOVED 1 [fe80::1:2]:7001");
  REQUIRE(bracketed.has_value());
  CHECK(bracketed->host == "fe80::1:2");
  CHECK(bracketed->port == 7001);
  auto same_host = parse_redirect("MOVED 42 :6380");
  REQUIRE(same_host.has_value());
  CHECK(same_host->host.empty());
  CHECK(same_host->port == 6380);
}

TEST_CASE("parse_redirect refuses other errors and malformed redirections") {
  CHECK_FALSE(parse_redirect("ERR unknown command").has_value());
  CHECK_FALSE(parse_redirect("CLUSTERDOWN The cluster is down").has_value());
  CHECK_FALSE(parse_redirect("MOVED").has_value());
  CHECK_FALSE(parse_redirect("MOVED 16384 127.0.0.1:1").has_value());
  CHECK_FALSE(parse_redirect("MOVED x 127.0.0.1:1").has_value());
  CHECK_FALSE(parse_redirect("MOVED 1 127.0.0.1").has_value());
  CHECK_FALSE(parse_redirect("MOVED 1 127.0.0.1:0").has_value());
  CHECK_FALSE(parse_redirect("MOVED 1 127.0.0.1:70000").has_value());
  CHECK_FALSE(parse_redirect("moved 1 127.0.0.1:6379").has_value());
}

TEST_CASE("a CLUSTER SLOTS reply becomes shards with their replicas and a slot index") {
  const std::string text =
      "*4\r\n" +
      entry(0, 5460, node("127.0.0.1", 7000, "a") + node("127.0.0.1", 7003, "d"), 2) +
      entry(5461, 10922, node("127.0.0.1", 7001, "b") + node("127.0.0.1", 7004, "e"), 2) +
      entry(10923, 16000, node("127.0.0.1", 7002, "c"), 1) +
      entry(16001, 16383, node("127.0.0.1", 7002, "c") + node("127.0.0.1", 7005, "f"), 2);
  auto r = resp(text);
  auto m = parse_cluster_slots(r.get(), "127.0.0.1");
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error()));
  REQUIRE(m->shards.size() == 3);
  CHECK(m->complete());
  CHECK(m->shards[0].master.port == 7000);
  CHECK(m->shards[0].master.id == "a");
  REQUIRE(m->shards[0].replicas.size() == 1);
  CHECK(m->shards[0].replicas[0].port == 7003);
  // The third master's two ranges make one shard, its replica known from the second.
  CHECK(m->shards[2].ranges.size() == 2);
  CHECK(m->shards[2].replicas.size() == 1);
  CHECK(m->shard_for_slot(0)->master.port == 7000);
  CHECK(m->shard_for_slot(5461)->master.port == 7001);
  CHECK(m->shard_for_slot(16383)->master.port == 7002);
  CHECK(m->shard_for_key("foo")->master.port == 7002);  // slot 12182
  CHECK(m->shards[1].master.address() == "127.0.0.1:7001");
}

TEST_CASE("an empty or unknown host in CLUSTER SLOTS is the host the command went to") {
  const std::string text = "*2\r\n" + entry(0, 8000, node("", 7000, "a"), 1) +
                           entry(8001, 16383, "*2\r\n$-1\r\n:7001\r\n", 1);
  auto r = resp(text);
  auto m = parse_cluster_slots(r.get(), "10.1.2.3");
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error()));
  CHECK(m->shards[0].master.host == "10.1.2.3");
  CHECK(m->shards[1].master.host == "10.1.2.3");
  CHECK(m->shards[1].master.id.empty());
}

TEST_CASE("a partial CLUSTER SLOTS reply is a map with unserved slots") {
  auto r = resp("*1\r\n" + entry(0, 99, node("h", 1, "a"), 1));
  auto m = parse_cluster_slots(r.get(), "h");
  REQUIRE(m.has_value());
  CHECK_FALSE(m->complete());
  CHECK(m->shard_for_slot(99) != nullptr);
  CHECK(m->shard_for_slot(100) == nullptr);
}

TEST_CASE("bad CLUSTER SLOTS replies are refused with a reason") {
  CHECK_FALSE(parse_cluster_slots(resp("-ERR This instance has cluster support disabled\r\n").get(), "h")
                  .has_value());
  CHECK_FALSE(parse_cluster_slots(resp(":1\r\n").get(), "h").has_value());
  CHECK_FALSE(parse_cluster_slots(resp("*1\r\n*2\r\n:0\r\n:1\r\n").get(), "h").has_value());
  CHECK_FALSE(parse_cluster_slots(resp("*1\r\n" + entry(5, 4, node("h", 1, "a"), 1)).get(), "h")
                  .has_value());
  CHECK_FALSE(parse_cluster_slots(resp("*1\r\n" + entry(0, 16384, node("h", 1, "a"), 1)).get(), "h")
                  .has_value());
  CHECK_FALSE(parse_cluster_slots(resp("*1\r\n" + entry(0, 1, "*2\r\n$1\r\nh\r\n:0\r\n", 1)).get(), "h")
                  .has_value());
  // The same slot served by two masters.
  auto twice = parse_cluster_slots(
      resp("*2\r\n" + entry(0, 10, node("h", 1, "a"), 1) + entry(10, 20, node("h", 2, "b"), 1)).get(),
      "h");
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().find("slot 10") != std::string::npos);
}

TEST_CASE("same_routing compares masters per slot, not replicas") {
  auto a = parse_cluster_slots(resp("*1\r\n" + entry(0, 16383, node("h", 1, "a") + node("h", 2, "b"), 2)).get(), "h");
  auto b = parse_cluster_slots(resp("*1\r\n" + entry(0, 16383, node("h", 1, "a"), 1)).get(), "h");
  auto c = parse_cluster_slots(resp("*1\r\n" + entry(0, 16383, node("h", 2, "b"), 1)).get(), "h");
  REQUIRE((a && b && c));
  CHECK(a->same_routing(*b));
  CHECK_FALSE(a->same_routing(*c));
}
