// bench/chatd_bench/ipc and report: the pipe between processes and merging results.

#include "bench/chatd_bench/ipc.h"
#include "bench/chatd_bench/report.h"
#include "bench/chatd_bench/wire_bytes.h"

#include <doctest/doctest.h>

#include <string>

using namespace chatd::bench;

TEST_CASE("messages split over many reads come out whole and in order") {
  const std::string bytes = ipc::encode(ipc::kind::progress, "first") +
                            ipc::encode(ipc::kind::go, std::string(100, 'x')) +
                            ipc::encode(ipc::kind::close, "");
  ipc::message_reader r;
  std::vector<ipc::message> got;
  for (char c : bytes) {
    r.append(std::string_view(&c, 1));
    while (auto m = r.next()) got.push_back(*m);
  }
  REQUIRE(got.size() == 3);
  CHECK(got[0].type == ipc::kind::progress);
  CHECK(got[0].body == "first");
  CHECK(got[1].body.size() == 100);
  CHECK(got[2].type == ipc::kind::close);
  CHECK(got[2].body.empty());
  CHECK(r.pending() == 0);
}

TEST_CASE("a truncated message waits for the rest") {
  const std::string bytes = ipc::encode(ipc::kind::final, "body");
  ipc::message_reader r;
  r.append(std::string_view(bytes).substr(0, bytes.size() - 1));
  CHECK_FALSE(r.next().has_value());
  CHECK_FALSE(r.corrupt());
  r.append(std::string_view(bytes).substr(bytes.size() - 1));
  auto m = r.next();
  REQUIRE(m.has_value());
  CHECK(m->body == "body");
}

TEST_CASE("an absurd length marks the stream corrupt") {
  std::string bytes;
  put_u64(bytes, 1);
  put_u64(bytes, ipc::message_reader::max_body + 1);
  ipc::message_reader r;
  r.append(bytes);
  CHECK_FALSE(r.next().has_value());
  CHECK(r.corrupt());
}

TEST_CASE("a result survives the pipe unchanged") {
  run_result a;
  a.planned = 10;
  a.connect_ok = 9;
  a.connect_failed = 1;
  a.failures["tcp connect: ECONNREFUSED"] = 1;
  a.sent = 5;
  a.received = 40;
  a.room_members = {5, 4};
  a.room_sent = {3, 2};
  a.latency.record(1500);
  std::string bytes;
  serialize(a, bytes);
  auto b = deserialize_result(bytes);
  REQUIRE(b.has_value());
  CHECK(b->planned == 10);
  CHECK(b->connect_failed == 1);
  CHECK(b->failures.at("tcp connect: ECONNREFUSED") == 1);
  CHECK(b->room_members == a.room_members);
  CHECK(b->latency.count() == 1);
  CHECK(b->expected() == a.expected());
}

TEST_CASE("a truncated or padded result is refused") {
  run_result a;
  a.failures["x"] = 2;
  a.room_sent = {1};
  std::string bytes;
  serialize(a, bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK_FALSE(deserialize_result(std::string_view(bytes).substr(0, n)).has_value());
  }
  CHECK_FALSE(deserialize_result(bytes + "x").has_value());
}

TEST_CASE("expected deliveries count every other connected member of the room") {
  run_result r;
  r.room_members = {50, 1, 0, 3};
  r.room_sent = {10, 7, 7, 2};
  // 10 x 49 + nothing for a lone or empty room + 2 x 2
  CHECK(r.expected() == 494);
}

TEST_CASE("merging results from two processes adds rooms, counts and reasons") {
  run_result a, b;
  a.room_members = {2, 1};
  a.room_sent = {4, 0};
  a.failures["timeout in tcp connect"] = 1;
  a.first_connect_us = 200;
  a.last_connect_us = 900;
  b.room_members = {1, 2, 5};
  b.room_sent = {0, 3, 0};
  b.failures["timeout in tcp connect"] = 2;
  b.first_connect_us = 100;
  b.last_connect_us = 800;
  a.merge(b);
  CHECK(a.room_members == std::vector<uint64_t>{3, 3, 5});
  CHECK(a.room_sent == std::vector<uint64_t>{4, 3, 0});
  CHECK(a.failures.at("timeout in tcp connect") == 3);
  CHECK(a.first_connect_us == 100);
  CHECK(a.last_connect_us == 900);
  CHECK(a.expected() == 4 * 2 + 3 * 2);
}

TEST_CASE("the JSON summary holds the counted figures") {
  options o;
  run_result r;
  r.connect_ok = 4;
  r.room_members = {4};
  r.room_sent = {10};
  r.received = 29;
  run_extras x;
  x.counted_s = 10;
  const std::string j = format_json(o, r, x);
  CHECK(j.front() == '{');
  CHECK(j.back() == '}');
  CHECK(j.find(R"("expected":30)") != std::string::npos);
  CHECK(j.find(R"("received":29)") != std::string::npos);
  CHECK(j.find(R"("loss":1)") != std::string::npos);
}
