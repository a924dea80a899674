// Room membership: vectors of members with O(1) leave, bus subscription at first/last member.

#include "worker/rooms.h"

namespace chatd {

void rooms::join(member& m, std::string_view name) {
  CHATD_ASSERT(m.room_ == nullptr, "a member joins a room while in another");
  auto it = rooms_.find(name);
  if (it == rooms_.end()) {
    auto r = std::make_unique<room>();
    r->name.assign(name);
    it = rooms_.emplace(r->name, std::move(r)).first;
  }
  room& r = *it->second;
  CHATD_ASSERT(r.walking == 0, "join while a broadcast walks the room");
  m.room_ = &r;
  m.room_index_ = static_cast<uint32_t>(r.members.size());
  r.members.push_back(&m);
  if (r.members.size() == 1 && on_first_member) on_first_member(r.name);
}

void rooms::leave(member& m) {
  room* r = m.room_;
  if (r == nullptr) return;
  CHATD_ASSERT(r->walking == 0, "leave while a broadcast walks the room");
  uint32_t i = m.room_index_;
  CHATD_ASSERT(i < r->members.size() && r->members[i] == &m, "room index out of step");
  member* last = r->members.back();
  r->members[i] = last;
  last->room_index_ = i;
  r->members.pop_back();
  m.room_ = nullptr;
  m.room_index_ = 0;
  if (r->members.empty()) {
    if (on_last_member) on_last_member(r->name);
    rooms_.erase(r->name);
  } else if (r->members.capacity() > 64 && r->members.size() < r->members.capacity() / 4) {
    r->members.shrink_to_fit();
  }
}

room* rooms::find(std::string_view name) {
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : it->second.get();
}

}  // namespace chatd
