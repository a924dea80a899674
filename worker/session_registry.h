#pragma once
// The one owner of a worker's Engine.IO sessions. A session lives here from its handshake to its
// end; then it is unlisted at once (no new request can find it) and freed at the next collect(),
// which the worker runs from its prepare callback, when no call stack can still hold it.

#include "common/string_hash.h"
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

class session;

class session_registry {
 public:
  session_registry() = default;
  ~session_registry();
  session_registry(const session_registry&) = delete;
  session_registry& operator=(const session_registry&) = delete;

  // Takes ownership and lists `s` under its Engine.IO sid.
  session& add(std::unique_ptr<session> s);
  session* find(std::string_view eio_sid);
  // `s` ended: unlisted now, freed by the next collect().
  void retire(session& s);
  // Frees every retired session.
  void collect();
  size_t size() const { return live_.size(); }
  // Every live session (a copy: ending them changes the registry).
  std::vector<session*> all() const;
  // The live polling sessions, for ending them (a retiring worker can no longer reach them).
  std::vector<session*> polling() const;

 private:
  // Keys view the session's own id storage (alive while listed).
  std::unordered_map<std::string_view, std::unique_ptr<session>, string_hash, std::equal_to<>> live_;
  std::vector<std::unique_ptr<session>> retired_;
};

}  // namespace chatd
