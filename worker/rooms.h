#pragma once
// Room membership of this worker's sessions. A session is in at most one chat room (the seed's
// `channel`). Members sit in a vector so a broadcast walks contiguous memory; each session keeps
// its index there so leaving is O(1) (swap with the last). The bus is told when a room gains its
// first local member and loses its last, so a worker subscribes only to rooms it can deliver to.
//
// Re-entrancy: join/leave must not be called while a broadcast walks the same room's members;
// sessions that fail during a broadcast are closed later by the server's sweep (close-soon).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

class session;

struct room {
  std::string name;
  std::vector<session*> members;
  int walking = 0;  // > 0 while a broadcast iterates `members`
};

class rooms {
 public:
  // Called when a room gains its first local member / loses its last.
  std::function<void(std::string_view room)> on_first_member;
  std::function<void(std::string_view room)> on_last_member;

  // Adds s to `name` (s must not be in a room).
  void join(session& s, std::string_view name);
  // Removes s from its room, if any.
  void leave(session& s);
  room* find(std::string_view name);
  size_t size() const { return rooms_.size(); }

  template <class F>
  void for_each_room(F&& f) {
    for (auto& [name, r] : rooms_) f(*r);
  }

 private:
  struct hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<room>, hash, std::equal_to<>> rooms_;
};

}  // namespace chatd
