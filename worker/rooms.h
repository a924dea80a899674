#pragma once
// Room membership of this worker's sockets. A member is in any number of rooms: its channel,
// joined at connect (the seed's room), and whatever other nodes' socketsJoin() add. Each room's
// members sit in a vector so a broadcast walks contiguous memory; each membership keeps its index
// there so leaving is O(1) (swap with the last). The bus is told when a room gains its first
// local member and loses its last, so a worker subscribes only to rooms it can deliver to.
//
// Re-entrancy: join/leave must not run while a broadcast walks the same room's members (the swap
// would skip or repeat a member). Walks go through for_each_member(), which counts them, and
// join/leave check the count with CHATD_ASSERT in every build. Members that fail during a walk
// are closed later by the worker's sweep (close-soon), never from inside it.

#include "common/string_hash.h"
#include "common/assert.h"
#include "worker/member.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

struct room {
  std::string name;
  std::vector<member*> members;
  int walking = 0;  // > 0 while a broadcast iterates `members` (rooms::for_each_member only)
};

class rooms {
 public:
  // Called when a room gains its first local member / loses its last.
  std::function<void(std::string_view room)> on_first_member;
  std::function<void(std::string_view room)> on_last_member;

  // Adds m to `name`; false when it is there already.
  bool join(member& m, std::string_view name);
  // Removes m from `name`; false when it was not there.
  bool leave(member& m, std::string_view name);
  // Removes m from every room it is in (its disconnect).
  void leave_all(member& m);
  room* find(std::string_view name);
  // Whether m is in `r`.
  static bool in(const member& m, const room* r);
  // Calls f(room&) for each room m is in, the first joined first.
  template <class F>
  static void for_each_room_of(const member& m, F&& f) {
    if (m.home_.where != nullptr) f(*m.home_.where);
    if (m.extra_rooms_) {
      for (const member::membership& e : *m.extra_rooms_) f(*e.where);
    }
  }
  size_t size() const { return rooms_.size(); }

  // Calls f(member&) for each member of r; join/leave of r meanwhile stop the worker.
  template <class F>
  static void for_each_member(room& r, F&& f) {
    walk_guard g(r);
    for (member* m : r.members) f(*m);
  }

  template <class F>
  void for_each_room(F&& f) {
    for (auto& [name, r] : rooms_) f(*r);
  }
  template <class F>
  void for_each_room(F&& f) const {
    for (const auto& [name, r] : rooms_) f(static_cast<const room&>(*r));
  }

 private:
  struct walk_guard {
    explicit walk_guard(room& r) : r_(r) { ++r_.walking; }
    ~walk_guard() { --r_.walking; }
    walk_guard(const walk_guard&) = delete;
    walk_guard& operator=(const walk_guard&) = delete;
    room& r_;
  };
  void remove(member& m, member::membership& slot);
  // The membership of m that names r (m must be in r).
  static member::membership& slot_of(member& m, const room* r);

  std::unordered_map<std::string, std::unique_ptr<room>, string_hash, std::equal_to<>> rooms_;
};

}  // namespace chatd
