// The owner of a worker's sessions: listed by sid while live, freed after they end.

#include "worker/session_registry.h"

#include "common/assert.h"
#include "worker/session.h"

namespace chatd {

session_registry::~session_registry() {
  // Sessions still live when the worker exits (the loop ended under them) end first, so the
  // application lets go of them and their timers are off, then go with the rest.
  for (session* s : all()) s->end();
  collect();
  CHATD_ASSERT(live_.empty(), "a session outlived its end()");
}

std::vector<session*> session_registry::all() const {
  std::vector<session*> out;
  out.reserve(live_.size());
  for (const auto& [sid, s] : live_) out.push_back(s.get());
  return out;
}

session& session_registry::add(std::unique_ptr<session> s) {
  session& ref = *s;
  auto [it, inserted] = live_.emplace(ref.eio_sid(), std::move(s));
  CHATD_ASSERT(inserted, "two live sessions with one sid");
  return ref;
}

session* session_registry::find(std::string_view eio_sid) {
  auto it = live_.find(eio_sid);
  return it == live_.end() ? nullptr : it->second.get();
}

void session_registry::retire(session& s) {
  auto it = live_.find(s.eio_sid());
  CHATD_ASSERT(it != live_.end() && it->second.get() == &s, "retiring a session not listed");
  retired_.push_back(std::move(it->second));
  live_.erase(it);
}

void session_registry::collect() {
  // A destructor never ends another session, but take the batch first all the same.
  while (!retired_.empty()) {
    std::vector<std::unique_ptr<session>> batch;
    batch.swap(retired_);
  }
}

std::vector<session*> session_registry::polling() const {
  std::vector<session*> out;
  for (const auto& [sid, s] : live_) {
    if (s->polling()) out.push_back(s.get());
  }
  return out;
}

}  // namespace chatd
