#pragma once
// JWT (RFC 7519) verification, sans-IO: a token, the policy, the keys (common/jwt_keys.h) and
// the time in; the verified user and channels, or the one reason it is refused, out. libjwt
// checks the signature; everything it would let a token choose is decided here first: the
// algorithm must be one the policy lists (never `none`), and the key is picked by that
// algorithm's family (the HMAC secret, or a public key of the matching kind, by `kid` in a
// JWKS), so a token signed with HS256 using a public key as its secret is refused.

#include "common/expected.h"
#include "common/jwt_keys.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

struct jwt_policy {
  std::vector<signing_alg> algorithms;  // accepted signature algorithms; empty accepts none
  std::string issuer;               // required `iss`; empty: not checked
  std::string audience;             // required in `aud` (a string or a list); empty: not checked
  uint32_t leeway_ms = 0;           // clock skew allowed on exp and nbf
  std::string user_claim = "sub";   // the claim naming the user (a non-empty string)
  std::string channels_claim;       // a list of channels the token may join; empty: any channel
};

// Why a token is refused. Each has a metric label and a sentence for the client.
enum class jwt_refusal : uint8_t {
  missing,        // no token given
  malformed,      // not three base64url segments of JSON
  algorithm,      // alg not configured (`none` included) or no key of its kind
  unknown_key,    // JWKS: no key with the token's kid (or no kid when several keys fit)
  signature,      // the signature does not verify
  expired,        // exp passed (beyond the leeway)
  not_yet_valid,  // nbf in the future (beyond the leeway)
  issuer,         // iss is not the configured issuer
  audience,       // aud does not name the configured audience
  user,           // the user claim is absent or not a non-empty string
  channels,       // the channels claim is not a list of strings (or the channel is not in it)
};
inline constexpr size_t k_jwt_refusals = 11;

// "missing", "expired", ... (the metric's `reason` label).
std::string_view jwt_refusal_label(jwt_refusal r);
// "token expired", ... (what the client's connect_error carries in data.reason).
std::string_view jwt_refusal_text(jwt_refusal r);

struct jwt_identity {
  std::string user;
  // The channels claim, when the policy names one (absent in the token: an empty list).
  std::optional<std::vector<std::string>> channels;
  // Whether `channel` may be joined: always without a channels claim.
  bool may_join(std::string_view channel) const;
};

// Verifies `token` at `now_ms` (ms since the epoch). Never throws.
expected<jwt_identity, jwt_refusal> jwt_verify(std::string_view token, const jwt_policy& policy,
                                               const jwt_keyset& keys, int64_t now_ms);

}  // namespace chatd
