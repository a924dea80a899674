// Request headers as Node's IncomingMessage.headers shows them (the handshake other nodes see).

#include "common/node_headers.h"

#include <doctest/doctest.h>

using chatd::node_headers_json;

TEST_CASE("node headers: lower-case names in arrival order, values as strings") {
  CHECK(node_headers_json({{"Host", "127.0.0.1:3000"}, {"User-Agent", "node"}, {"X-Id", "7"}}) ==
        R"({"host":"127.0.0.1:3000","user-agent":"node","x-id":"7"})");
  CHECK(node_headers_json({}) == "{}");
}

TEST_CASE("node headers: repeated headers merge as Node merges them") {
  CHECK(node_headers_json({{"Accept", "a"}, {"accept", "b"}}) == R"({"accept":"a, b"})");
  CHECK(node_headers_json({{"Cookie", "a=1"}, {"Cookie", "b=2"}}) == R"({"cookie":"a=1; b=2"})");
  CHECK(node_headers_json({{"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}}) ==
        R"({"set-cookie":["a=1","b=2"]})");
  CHECK(node_headers_json({{"Host", "one"}, {"Host", "two"}}) == R"({"host":"one"})");
  CHECK(node_headers_json({{"X-Quote", "say \"hi\"\n"}}) == R"({"x-quote":"say \"hi\"\n"})");
}
