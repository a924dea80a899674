// Room membership with several rooms per member (the channel, plus rooms other nodes add with
// socketsJoin): O(1) leave keeps every member's index right, rooms come and go with their first
// and last member, a member is in a room at most once. Checked against a plain model under a
// deterministic random sequence of joins and leaves.

#include "tests/unit/test_member.h"
#include "worker/rooms.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace chatd;
using chatd::testing::test_member;

namespace {

std::vector<std::string> rooms_of(const member& m) {
  std::vector<std::string> out;
  rooms::for_each_room_of(m, [&](const room& r) { out.push_back(r.name); });
  return out;
}

}  // namespace

TEST_CASE("rooms: a member joins several rooms once each and leaves them one by one") {
  rooms r;
  std::vector<std::string> first, last;
  r.on_first_member = [&](std::string_view n) { first.emplace_back(n); };
  r.on_last_member = [&](std::string_view n) { last.emplace_back(n); };
  test_member a("a", "lobby"), b("b", "lobby");
  CHECK(r.join(a, "lobby"));
  CHECK(r.join(a, "extra"));
  CHECK_FALSE(r.join(a, "extra"));  // once
  CHECK(r.join(b, "lobby"));
  CHECK(rooms_of(a) == std::vector<std::string>{"lobby", "extra"});
  CHECK(first == std::vector<std::string>{"lobby", "extra"});
  CHECK(rooms::in(a, r.find("extra")));
  CHECK_FALSE(rooms::in(b, r.find("extra")));
  // Leaving the first room keeps the others; the slot is reused by the next join.
  CHECK(r.leave(a, "lobby"));
  CHECK_FALSE(r.leave(a, "lobby"));
  CHECK(rooms_of(a) == std::vector<std::string>{"extra"});
  CHECK(r.find("lobby")->members == std::vector<member*>{&b});
  CHECK(r.join(a, "third"));
  CHECK(rooms_of(a) == std::vector<std::string>{"third", "extra"});
  r.leave_all(a);
  CHECK(rooms_of(a).empty());
  CHECK(a.extra_rooms_ == nullptr);  // nothing allocated once back to no extra room
  CHECK(last == std::vector<std::string>{"extra", "third"});
  CHECK(r.size() == 1);
}

TEST_CASE("rooms: random joins and leaves agree with a model, indexes stay right") {
  rooms r;
  std::vector<std::unique_ptr<test_member>> ms;
  for (int i = 0; i < 40; ++i) ms.push_back(std::make_unique<test_member>(std::string("m").append(std::to_string(i)), "x"));
  const std::vector<std::string> names = {"r0", "r1", "r2", "r3", "r4", "r5"};
  std::map<std::string, std::set<member*>> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    member& m = *ms[rng() % ms.size()];
    const std::string& n = names[rng() % names.size()];
    switch (rng() % 5) {
      case 0:
      case 1:
        CHECK(r.join(m, n) == model[n].insert(&m).second);
        break;
      case 2:
      case 3:
        CHECK(r.leave(m, n) == (model[n].erase(&m) == 1));
        break;
      default:
        if (rng() % 8 == 0) {
          r.leave_all(m);
          for (auto& [name, set] : model) set.erase(&m);
        }
    }
  }
  for (const std::string& n : names) {
    room* x = r.find(n);
    if (model[n].empty()) {
      CHECK(x == nullptr);
      continue;
    }
    REQUIRE(x != nullptr);
    CHECK(std::set<member*>(x->members.begin(), x->members.end()) == model[n]);
    CHECK(x->members.size() == model[n].size());
  }
  // Every membership's index points back at its member.
  for (auto& m : ms) {
    rooms::for_each_room_of(*m, [&](const room& x) {
      CHECK(std::count(x.members.begin(), x.members.end(), m.get()) == 1);
    });
    r.leave_all(*m);
  }
  CHECK(r.size() == 0);
}
