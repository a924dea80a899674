#pragma once
// The worker's namespaces (config `namespaces:`): for each one the application serving it and
// the options its sockets run under, resolved from the config (common/config_namespaces.h).
// A CONNECT to a name not listed gets {"message":"Invalid namespace"}.

#include "common/config.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class app;

struct namespace_entry {
  std::string name;   // "/" or "/<name>"
  app* application;   // owned by the worker (server), alive as long as the sessions
  bool auth;
  uint32_t message_rate;
  uint32_t message_burst;
  bool message_rate_disconnect;
};

class namespace_table {
 public:
  namespace_table() = default;
  // `application` serves `ns` (a resolved namespace_config: every option set).
  void add(const namespace_config& ns, app& application) {
    entries_.push_back(namespace_entry{ns.name, &application, ns.auth.value_or(false),
                                       ns.message_rate.value_or(0), ns.message_burst.value_or(1),
                                       ns.message_rate_disconnect.value_or(false)});
  }
  void add(namespace_entry e) { entries_.push_back(std::move(e)); }
  const namespace_entry* find(std::string_view name) const {
    for (const namespace_entry& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  const std::vector<namespace_entry>& entries() const { return entries_; }

 private:
  std::vector<namespace_entry> entries_;
};

}  // namespace chatd
