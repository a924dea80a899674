#pragma once
// The `auth:` section of the config (common/config.h: auth_config), for the loader in
// common/config.cpp: its text keys, its list of algorithms, and the key files, read and checked
// against the algorithms once the whole file is loaded. Internal to the config loader.

#include "common/config.h"

#include <optional>
#include <string>
#include <string_view>

namespace chatd {

// Sets the text key auth.<leaf> (issuer, audience, user_claim, channels_claim, secret_file,
// public_key_file, jwks_file, mismatched_user_id); the reason when the value is refused.
std::optional<std::string> set_auth_text(auth_config& a, std::string_view leaf, std::string_view text);
// Checks one entry of auth.algorithms and adds it; the reason when refused.
std::optional<std::string> add_auth_algorithm(auth_config& a, std::string_view name, size_t index);

struct auth_keys_error {
  std::string_view key;  // the auth.* key the error is about (its line is reported)
  std::string reason;
};
// With auth enabled, reads the key files into a.keys and checks that every algorithm has its
// key; disabled, it does nothing (files named but off are not read).
std::optional<auth_keys_error> load_auth_keys(auth_config& a);

}  // namespace chatd
