// Room membership: vectors of members with O(1) leave, bus subscription at first/last member.

#include "worker/rooms.h"

#include <algorithm>

namespace chatd {

bool rooms::in(const member& m, const room* r) {
  bool found = false;
  for_each_room_of(m, [&](const room& x) { found = found || &x == r; });
  return found;
}

member::membership& rooms::slot_of(member& m, const room* r) {
  if (m.home_.where == r) return m.home_;
  CHATD_ASSERT(m.extra_rooms_ != nullptr, "a member's room index names a room it is not in");
  for (member::membership& e : *m.extra_rooms_) {
    if (e.where == r) return e;
  }
  CHATD_ASSERT(false, "a member's room index names a room it is not in");
  return m.home_;
}

bool rooms::join(member& m, std::string_view name) {
  auto it = rooms_.find(name);
  if (it != rooms_.end() && in(m, it->second.get())) return false;
  if (it == rooms_.end()) {
    auto r = std::make_unique<room>();
    r->name.assign(name);
    it = rooms_.emplace(r->name, std::move(r)).first;
  }
  room& r = *it->second;
  CHATD_ASSERT(r.walking == 0, "join while a broadcast walks the room");
  member::membership joined{&r, static_cast<uint32_t>(r.members.size())};
  if (m.home_.where == nullptr) {
    m.home_ = joined;
  } else {
    if (!m.extra_rooms_) m.extra_rooms_ = std::make_unique<std::vector<member::membership>>();
    m.extra_rooms_->push_back(joined);
  }
  r.members.push_back(&m);
  if (r.members.size() == 1 && on_first_member) on_first_member(r.name);
  return true;
}

void rooms::remove(member& m, member::membership& slot) {
  room* r = slot.where;
  CHATD_ASSERT(r->walking == 0, "leave while a broadcast walks the room");
  uint32_t i = slot.index;
  CHATD_ASSERT(i < r->members.size() && r->members[i] == &m, "room index out of step");
  member* last = r->members.back();
  r->members[i] = last;
  slot_of(*last, r).index = i;
  r->members.pop_back();
  if (&slot == &m.home_) {
    m.home_ = {};
  } else {
    std::erase_if(*m.extra_rooms_, [&](const member::membership& e) { return e.where == r; });
    if (m.extra_rooms_->empty()) m.extra_rooms_.reset();
  }
  if (r->members.empty()) {
    if (on_last_member) on_last_member(r->name);
    rooms_.erase(r->name);
  } else if (r->members.capacity() > 64 && r->members.size() < r->members.capacity() / 4) {
    r->members.shrink_to_fit();
  }
}

bool rooms::leave(member& m, std::string_view name) {
  room* r = find(name);
  if (r == nullptr || !in(m, r)) return false;
  remove(m, slot_of(m, r));
  return true;
}

void rooms::leave_all(member& m) {
  while (m.extra_rooms_) remove(m, m.extra_rooms_->back());
  if (m.home_.where != nullptr) remove(m, m.home_);
}

room* rooms::find(std::string_view name) {
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : it->second.get();
}

}  // namespace chatd
