#pragma once
// The `namespaces:` section of the config (common/config.h: namespace_config), for the loader in
// common/config.cpp: a mapping from each namespace's name to its application and options,
//
//   namespaces:
//     /:      {app: chat}
//     /echo:  {app: echo, auth: off, message_rate: 1000}
//
// read here, then completed and checked across keys by resolve_namespaces() once the whole
// config (and the command line) is known. Internal to the config loader.

#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace chatd {

struct namespaces_error {
  int line = 0;  // 1-based; 0 when not tied to a line
  std::string reason;
};

// Reads the section's mapping into c.namespaces (replacing what was there).
std::optional<namespaces_error> load_namespaces(config& c, const YAML::Node& section);
// Fills each namespace's unset options from the global keys, adds the default ("/" served by
// chat) when none is configured, and checks the rules across them: chat serves "/" only (the
// Redis adapter's namespace), a namespace with auth on needs auth.enabled (its keys and policy).
std::optional<namespaces_error> resolve_namespaces(config& c);
// The namespace served at `name`, or nullptr (an "Invalid namespace").
const namespace_config* find_namespace(const config& c, std::string_view name);
std::string_view app_name(app_kind k);

}  // namespace chatd
