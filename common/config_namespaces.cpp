// See config_namespaces.h.

#include "common/config_namespaces.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace chatd {

namespace {

int line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

constexpr std::string_view k_namespace_keys[] = {"app", "auth", "message_rate", "message_burst",
                                                 "message_rate_action"};

// What a Socket.IO packet can name: "/" then anything but the ',' that ends the name on the
// wire; no spaces, control characters, or the URL's '?' and '#' (a client cuts them off).
std::optional<std::string> check_name(const std::string& name) {
  if (name.empty() || name[0] != '/') {
    return fmt::format("namespaces: '{}' is not a namespace name (it starts with '/', e.g. /chat)",
                       name);
  }
  if (name.size() > 128) return fmt::format("namespaces: '{}' is longer than 128 characters", name);
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == ',' || c == '?' || c == '#') {
      return fmt::format("namespaces: '{}' may not contain spaces, control characters, ',', '?' or "
                         "'#'",
                         name);
    }
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(const std::string& t) {
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<uint32_t> parse_count(const std::string& t, uint32_t lo, uint32_t hi) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<namespaces_error> load_option(namespace_config& ns, const std::string& key,
                                            const YAML::Node& value) {
  const std::string path = fmt::format("namespaces.{}.{}", ns.name, key);
  auto fail = [&](std::string reason) {
    return namespaces_error{line_of(value), std::move(reason)};
  };
  if (!value.IsScalar()) return fail(fmt::format("{}: expected a single value", path));
  const std::string& t = value.Scalar();
  if (key == "app") {
    if (t == "chat") ns.app = app_kind::chat;
    else if (t == "echo") ns.app = app_kind::echo;
    else return fail(fmt::format("{}: expected chat or echo, got '{}'", path, t));
  } else if (key == "auth") {
    ns.auth = parse_bool(t);
    if (!ns.auth) return fail(fmt::format("{}: expected true or false, got '{}'", path, t));
  } else if (key == "message_rate") {
    ns.message_rate = parse_count(t, 0, 1000000);
    if (!ns.message_rate) return fail(fmt::format("{}: expected an integer in 0-1000000, got '{}'", path, t));
  } else if (key == "message_burst") {
    ns.message_burst = parse_count(t, 1, 1000000);
    if (!ns.message_burst) return fail(fmt::format("{}: expected an integer in 1-1000000, got '{}'", path, t));
  } else {  // message_rate_action
    if (t == "drop") ns.message_rate_disconnect = false;
    else if (t == "disconnect") ns.message_rate_disconnect = true;
    else return fail(fmt::format("{}: expected drop or disconnect, got '{}'", path, t));
  }
  return std::nullopt;
}

}  // namespace

std::string_view app_name(app_kind k) { return k == app_kind::chat ? "chat" : "echo"; }

std::optional<namespaces_error> load_namespaces(config& c, const YAML::Node& section) {
  c.namespaces.clear();
  if (section.IsNull()) return std::nullopt;
  if (!section.IsMap()) {
    return namespaces_error{line_of(section),
                            "namespaces: expected a mapping of namespace names to their options, "
                            "e.g. namespaces: {/: {app: chat}}"};
  }
  for (const auto& kv : section) {
    if (!kv.first.IsScalar()) return namespaces_error{line_of(kv.first), "namespaces: expected a namespace name"};
    namespace_config ns;
    ns.name = kv.first.Scalar();
    ns.line = line_of(kv.first);
    if (auto reason = check_name(ns.name)) return namespaces_error{ns.line, std::move(*reason)};
    if (find_namespace(c, ns.name) != nullptr) {
      return namespaces_error{ns.line, fmt::format("namespaces: duplicate namespace '{}'", ns.name)};
    }
    const YAML::Node& opts = kv.second;
    if (!opts.IsNull() && !opts.IsMap()) {
      return namespaces_error{line_of(opts), fmt::format("namespaces.{}: expected a mapping of "
                                                         "options (app, auth, message_rate, ...)",
                                                         ns.name)};
    }
    bool has_app = false;
    if (opts.IsMap()) {
      for (const auto& o : opts) {
        const std::string key = o.first.IsScalar() ? o.first.Scalar() : std::string();
        if (std::find(std::begin(k_namespace_keys), std::end(k_namespace_keys), key) ==
            std::end(k_namespace_keys)) {
          return namespaces_error{line_of(o.first),
                                  fmt::format("namespaces.{}: unknown key '{}' (known: app, auth, "
                                              "message_rate, message_burst, message_rate_action)",
                                              ns.name, key)};
        }
        has_app = has_app || key == "app";
        if (auto err = load_option(ns, key, o.second)) return err;
      }
    }
    if (!has_app) {
      return namespaces_error{ns.line, fmt::format("namespaces.{}: missing key 'app' (chat or echo)",
                                                   ns.name)};
    }
    c.namespaces.push_back(std::move(ns));
  }
  return std::nullopt;
}

std::optional<namespaces_error> resolve_namespaces(config& c) {
  if (c.namespaces.empty()) {
    namespace_config root;
    root.name = "/";
    c.namespaces.push_back(std::move(root));
  }
  for (namespace_config& ns : c.namespaces) {
    if (ns.app == app_kind::chat && ns.name != "/") {
      return namespaces_error{ns.line, fmt::format("namespaces.{}: app chat serves \"/\" only (the "
                                                   "namespace the Redis adapter's rooms live on)",
                                                   ns.name)};
    }
    if (ns.auth.value_or(false) && !c.auth.enabled) {
      return namespaces_error{ns.line, fmt::format("namespaces.{}: auth: on needs auth.enabled: "
                                                   "true (the keys and the token policy)",
                                                   ns.name)};
    }
    if (!ns.auth) ns.auth = c.auth.enabled;
    if (!ns.message_rate) ns.message_rate = c.message_rate;
    if (!ns.message_burst) ns.message_burst = c.message_burst;
    if (!ns.message_rate_disconnect) ns.message_rate_disconnect = c.message_rate_disconnect;
  }
  return std::nullopt;
}

const namespace_config* find_namespace(const config& c, std::string_view name) {
  for (const namespace_config& ns : c.namespaces) {
    if (ns.name == name) return &ns;
  }
  return nullptr;
}

}  // namespace chatd
