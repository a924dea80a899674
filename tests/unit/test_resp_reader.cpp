// worker/resp_reader: hiredis' reader under a bound on the elements a reply declares.

#include "worker/resp_reader.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

using namespace chatd;

namespace {

// Feeds `text`; REDIS_OK with the reply (or none yet) in `out`, else REDIS_ERR.
int read_one(redisReader* r, const std::string& text, redisReply*& out) {
  redisReaderFeed(r, text.data(), text.size());
  void* reply = nullptr;
  const int rc = redisReaderGetReply(r, &reply);
  out = static_cast<redisReply*>(reply);
  return rc;
}

}  // namespace

TEST_CASE("the bounded reader reads replies as hiredis' own does") {
  reply_budget budget;
  redisReader* r = create_bounded_reader(&budget);
  REQUIRE(r != nullptr);
  redisReply* reply = nullptr;
  REQUIRE(read_one(r, "*2\r\n$3\r\nfoo\r\n*1\r\n:42\r\n", reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  CHECK(reply->type == REDIS_REPLY_ARRAY);
  CHECK(reply->elements == 2);
  CHECK(std::string(reply->element[0]->str, reply->element[0]->len) == "foo");
  CHECK(reply->element[1]->element[0]->integer == 42);
  CHECK(budget.elements == 3);  // both arrays counted
  freeReplyObject(reply);
  redisReaderFree(r);
}

TEST_CASE("the bounded reader refuses an array header beyond the budget instead of allocating it") {
  reply_budget budget;
  redisReader* r = create_bounded_reader(&budget);
  REQUIRE(r != nullptr);
  redisReply* reply = nullptr;
  CHECK(read_one(r, "*420521903\r\n", reply) == REDIS_ERR);
  CHECK(reply == nullptr);
  CHECK(budget.elements > k_max_reply_elements);
  redisReaderFree(r);
}

TEST_CASE("the bounded reader counts every nesting level of one reply") {
  reply_budget budget;
  redisReader* r = create_bounded_reader(&budget);
  REQUIRE(r != nullptr);
  const size_t half = k_max_reply_elements / 2 + 1;
  redisReply* reply = nullptr;
  // Two nested headers, each within the bound, together beyond it.
  CHECK(read_one(r, fmt::format("*2\r\n*{}\r\n", half), reply) == REDIS_OK);  // incomplete
  CHECK(reply == nullptr);
  for (size_t i = 0; i < half; ++i) redisReaderFeed(r, ":1\r\n", 4);
  CHECK(read_one(r, fmt::format("*{}\r\n", half), reply) == REDIS_ERR);
  redisReaderFree(r);
}
