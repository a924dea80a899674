// The `history` event's argument (common/history_request.h).

#include "common/history_request.h"

#include <doctest/doctest.h>

using chatd::parse_history_request;

TEST_CASE("history_request: no argument asks for the member's channel, max_messages of it") {
  auto r = parse_history_request("", 100);
  REQUIRE(r.has_value());
  CHECK(r->room.empty());
  CHECK(r->limit == 100);
  auto n = parse_history_request("null", 100);
  REQUIRE(n.has_value());
  CHECK(n->limit == 100);
}

TEST_CASE("history_request: room and limit are read; a limit past max_messages is clamped") {
  auto r = parse_history_request(R"({"room":"lobby","limit":5})", 100);
  REQUIRE(r.has_value());
  CHECK(r->room == "lobby");
  CHECK(r->limit == 5);
  auto big = parse_history_request(R"({"limit":5000})", 100);
  REQUIRE(big.has_value());
  CHECK(big->limit == 100);
}

TEST_CASE("history_request: a bad argument says what is wrong") {
  CHECK(parse_history_request("[1]", 100).error() == "expected {room?, limit?}");
  CHECK(parse_history_request(R"({"room":3})", 100).error() == "room: expected a string");
  CHECK(parse_history_request(R"({"limit":0})", 100).error() ==
        "limit: expected a positive integer");
  CHECK(parse_history_request(R"({"limit":1.5})", 100).error() ==
        "limit: expected a positive integer");
  CHECK(parse_history_request(R"({"limit":"3"})", 100).error() ==
        "limit: expected a positive integer");
}
