// The config's `auth:` section (common/config_auth.h): text keys, algorithms, and the key files
// read when the config is loaded, so a missing or bad key is a config error (with its line) at
// start, on --check-config and on reload, never a surprise at the first CONNECT.

#include "common/config_auth.h"

#include <fmt/format.h>

#include <algorithm>

namespace chatd {

std::optional<std::string> set_auth_text(auth_config& a, std::string_view leaf, std::string_view text) {
  jwt_policy& p = a.policy;
  if (leaf == "issuer") {
    p.issuer = text;
  } else if (leaf == "audience") {
    p.audience = text;
  } else if (leaf == "user_claim") {
    if (text.empty()) return std::string("auth.user_claim: must name a claim (default sub)");
    p.user_claim = text;
  } else if (leaf == "channels_claim") {
    p.channels_claim = text;
  } else if (leaf == "secret_file") {
    a.secret_file = text;
  } else if (leaf == "public_key_file") {
    a.public_key_file = text;
  } else if (leaf == "jwks_file") {
    a.jwks_file = text;
  } else if (leaf == "mismatched_user_id") {
    if (text != "refuse" && text != "rewrite") {
      return fmt::format("auth.mismatched_user_id: expected refuse or rewrite, got '{}'", text);
    }
    a.rewrite_user_id = text == "rewrite";
  }
  return std::nullopt;
}

std::optional<std::string> add_auth_algorithm(auth_config& a, std::string_view name, size_t index) {
  signing_alg alg{};
  if (!parse_signing_alg(name, alg)) {
    return fmt::format("auth.algorithms[{}]: expected one of HS256, HS384, HS512, RS256, RS384, "
                       "RS512, ES256, ES384, ES512 (never none), got '{}'",
                       index, name);
  }
  auto& algs = a.policy.algorithms;
  if (std::find(algs.begin(), algs.end(), alg) != algs.end()) {
    return fmt::format("auth.algorithms[{}]: {} is listed twice", index, name);
  }
  algs.push_back(alg);
  return std::nullopt;
}

std::optional<auth_keys_error> load_auth_keys(auth_config& a) {
  a.keys = jwt_keyset{};
  if (!a.enabled) return std::nullopt;
  const auto& algs = a.policy.algorithms;
  if (algs.empty()) return auth_keys_error{"algorithms", "auth.algorithms: list at least one"};
  bool hmac = std::any_of(algs.begin(), algs.end(), is_hmac);
  bool pub = std::any_of(algs.begin(), algs.end(), [](signing_alg x) { return !is_hmac(x); });
  if (hmac && a.secret_file.empty()) {
    return auth_keys_error{"algorithms", "auth.algorithms: an HS algorithm needs auth.secret_file"};
  }
  if (pub && a.public_key_file.empty() == a.jwks_file.empty()) {
    return auth_keys_error{"algorithms", "auth.algorithms: an RS or ES algorithm needs exactly one "
                                         "of auth.public_key_file and auth.jwks_file"};
  }
  if (hmac) {
    auto secret = read_jwt_secret(a.secret_file);
    if (!secret) {
      return auth_keys_error{"secret_file",
                             fmt::format("auth.secret_file: {}: {}", a.secret_file, secret.error())};
    }
    a.keys.secret = std::move(*secret);
  }
  if (pub && !a.public_key_file.empty()) {
    auto key = read_jwt_public_key(a.public_key_file);
    if (!key) {
      return auth_keys_error{"public_key_file", fmt::format("auth.public_key_file: {}: {}",
                                                            a.public_key_file, key.error())};
    }
    a.keys.keys.push_back(std::move(*key));
  } else if (pub) {
    auto keys = read_jwks(a.jwks_file);
    if (!keys) {
      return auth_keys_error{"jwks_file",
                             fmt::format("auth.jwks_file: {}: {}", a.jwks_file, keys.error())};
    }
    a.keys.keys = std::move(*keys);
    a.keys.from_jwks = true;
  }
  // Every public-key algorithm listed must have a key that can check it.
  for (signing_alg x : algs) {
    if (is_hmac(x)) continue;
    bool any = std::any_of(a.keys.keys.begin(), a.keys.keys.end(),
                           [&](const jwt_public_key& k) { return k.verifies(x); });
    if (!any) {
      std::string_view which = a.keys.from_jwks ? "jwks_file" : "public_key_file";
      return auth_keys_error{which, fmt::format("auth.{}: no key in it can verify {}", which,
                                                signing_alg_name(x))};
    }
  }
  return std::nullopt;
}

}  // namespace chatd
