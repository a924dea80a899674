// Room membership: vectors of members with O(1) leave, bus subscription at first/last member.

#include "worker/rooms.h"

#include "worker/session.h"

#include <cassert>

namespace chatd {

void rooms::join(session& s, std::string_view name) {
  assert(s.room_ == nullptr);
  auto it = rooms_.find(name);
  if (it == rooms_.end()) {
    auto r = std::make_unique<room>();
    r->name.assign(name);
    it = rooms_.emplace(r->name, std::move(r)).first;
  }
  room& r = *it->second;
  assert(r.walking == 0 && "join while a broadcast walks the room");
  s.room_ = &r;
  s.room_index_ = static_cast<uint32_t>(r.members.size());
  r.members.push_back(&s);
  if (r.members.size() == 1 && on_first_member) on_first_member(r.name);
}

void rooms::leave(session& s) {
  room* r = s.room_;
  if (r == nullptr) return;
  assert(r->walking == 0 && "leave while a broadcast walks the room");
  uint32_t i = s.room_index_;
  session* last = r->members.back();
  r->members[i] = last;
  last->room_index_ = i;
  r->members.pop_back();
  s.room_ = nullptr;
  s.room_index_ = 0;
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
