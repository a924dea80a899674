// JWT verification (common/jwt_verify.h): header and claims parsed here, the signature checked
// by libjwt with the one key the policy allows for the token's algorithm.
//
// Steps, each refusing with its own reason: split and decode (malformed) -> alg in the policy
// (algorithm) -> the key of that kind (algorithm, unknown_key) -> libjwt's signature check
// (signature) -> exp, nbf, iss, aud, the user claim, the channels claim.

#include "common/jwt_verify.h"

#include "common/base64.h"

#include <jwt.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

namespace chatd {
namespace {

// Tokens travel in a query string or a CONNECT payload; nothing legitimate comes near this.
constexpr size_t k_max_token = 16384;

struct refusal_names {
  std::string_view label;
  std::string_view text;
};
constexpr std::array<refusal_names, k_jwt_refusals> k_refusals = {{
    {"missing", "missing token"},
    {"malformed", "malformed token"},
    {"algorithm", "algorithm not allowed"},
    {"unknown_key", "unknown signing key"},
    {"signature", "invalid signature"},
    {"expired", "token expired"},
    {"not_yet_valid", "token not yet valid"},
    {"issuer", "wrong issuer"},
    {"audience", "wrong audience"},
    {"user", "missing user claim"},
    {"channels", "channel not allowed"},
}};

using simdjson::dom::element;
using simdjson::dom::object;

struct jwt_deleter {
  void operator()(jwt_t* j) const { ::jwt_free(j); }
};

// The public key for `alg`: by kid in a JWKS, else the one key, if its kind fits.
expected<const jwt_public_key*, jwt_refusal> pick_key(const jwt_keyset& keys, signing_alg alg,
                                                      object header) {
  std::string_view kid;
  bool has_kid = header["kid"].get(kid) == simdjson::SUCCESS;
  if (keys.from_jwks && has_kid) {
    for (const jwt_public_key& k : keys.keys) {
      if (k.kid != kid) continue;
      if (!k.verifies(alg)) return unexpected{jwt_refusal::algorithm};
      return &k;
    }
    return unexpected{jwt_refusal::unknown_key};
  }
  const jwt_public_key* fit = nullptr;
  for (const jwt_public_key& k : keys.keys) {
    if (!k.verifies(alg)) continue;
    // Without a kid, a JWKS must leave no choice.
    if (fit != nullptr) return unexpected{jwt_refusal::unknown_key};
    fit = &k;
  }
  if (fit == nullptr) return unexpected{jwt_refusal::algorithm};
  return fit;
}

// A NumericDate claim (seconds, maybe fractional) in ms; nullopt when absent; false in `ok`
// when present but not a number.
std::optional<double> date_ms(object claims, const char* name, bool& ok) {
  element v;
  if (claims[name].get(v) != simdjson::SUCCESS) return std::nullopt;
  double seconds = 0;
  if (v.get(seconds) != simdjson::SUCCESS || !std::isfinite(seconds)) {
    ok = false;
    return std::nullopt;
  }
  return seconds * 1000.0;
}

bool audience_matches(object claims, std::string_view want) {
  element aud;
  if (claims["aud"].get(aud) != simdjson::SUCCESS) return false;
  std::string_view one;
  if (aud.get(one) == simdjson::SUCCESS) return one == want;
  simdjson::dom::array many;
  if (aud.get(many) != simdjson::SUCCESS) return false;
  for (element e : many) {
    if (e.get(one) == simdjson::SUCCESS && one == want) return true;
  }
  return false;
}

// Parses one base64url segment as a JSON object, kept alive by `parser`.
bool parse_segment(simdjson::dom::parser& parser, std::string_view segment, object& out) {
  std::optional<std::string> json = base64::decode_url(segment);
  if (!json) return false;
  return parser.parse(*json).get(out) == simdjson::SUCCESS;
}

// The claims after the signature: times, issuer, audience, user, channels.
expected<jwt_identity, jwt_refusal> check_claims(object claims, const jwt_policy& policy,
                                                 int64_t now_ms) {
  bool ok = true;
  std::optional<double> exp = date_ms(claims, "exp", ok);
  std::optional<double> nbf = date_ms(claims, "nbf", ok);
  if (!ok) return unexpected{jwt_refusal::malformed};
  const double now = static_cast<double>(now_ms), leeway = policy.leeway_ms;
  if (exp && now >= *exp + leeway) return unexpected{jwt_refusal::expired};
  if (nbf && now + leeway < *nbf) return unexpected{jwt_refusal::not_yet_valid};
  std::string_view text;
  if (!policy.issuer.empty() &&
      (claims["iss"].get(text) != simdjson::SUCCESS || text != policy.issuer)) {
    return unexpected{jwt_refusal::issuer};
  }
  if (!policy.audience.empty() && !audience_matches(claims, policy.audience)) {
    return unexpected{jwt_refusal::audience};
  }
  jwt_identity id;
  if (claims[policy.user_claim].get(text) != simdjson::SUCCESS || text.empty()) {
    return unexpected{jwt_refusal::user};
  }
  id.user = text;
  if (!policy.channels_claim.empty()) {
    id.channels.emplace();
    element list;
    if (claims[policy.channels_claim].get(list) == simdjson::SUCCESS) {
      simdjson::dom::array channels;
      if (list.get(channels) != simdjson::SUCCESS) return unexpected{jwt_refusal::channels};
      for (element c : channels) {
        if (c.get(text) != simdjson::SUCCESS) return unexpected{jwt_refusal::channels};
        id.channels->emplace_back(text);
      }
    }
  }
  return id;
}

}  // namespace

std::string_view jwt_refusal_label(jwt_refusal r) { return k_refusals[static_cast<size_t>(r)].label; }
std::string_view jwt_refusal_text(jwt_refusal r) { return k_refusals[static_cast<size_t>(r)].text; }

bool jwt_identity::may_join(std::string_view channel) const {
  if (!channels) return true;
  for (const std::string& c : *channels) {
    if (c == channel) return true;
  }
  return false;
}

expected<jwt_identity, jwt_refusal> jwt_verify(std::string_view token, const jwt_policy& policy,
                                               const jwt_keyset& keys, int64_t now_ms) {
  try {
    if (token.empty()) return unexpected{jwt_refusal::missing};
    if (token.size() > k_max_token) return unexpected{jwt_refusal::malformed};
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      return unexpected{jwt_refusal::malformed};
    }
    simdjson::dom::parser header_parser, claims_parser;
    object header, claims;
    if (!parse_segment(header_parser, token.substr(0, dot1), header) ||
        !parse_segment(claims_parser, token.substr(dot1 + 1, dot2 - dot1 - 1), claims)) {
      return unexpected{jwt_refusal::malformed};
    }
    std::string_view alg_name;
    signing_alg alg{};
    if (header["alg"].get(alg_name) != simdjson::SUCCESS) return unexpected{jwt_refusal::malformed};
    if (!parse_signing_alg(alg_name, alg) ||
        std::find(policy.algorithms.begin(), policy.algorithms.end(), alg) == policy.algorithms.end()) {
      return unexpected{jwt_refusal::algorithm};
    }
    std::string_view key;
    if (is_hmac(alg)) {
      if (keys.secret.empty()) return unexpected{jwt_refusal::algorithm};
      key = keys.secret;
    } else {
      auto picked = pick_key(keys, alg, header);
      if (!picked) return unexpected{picked.error()};
      key = (*picked)->pem;
    }
    // libjwt decides how to verify from the token's own header: the algorithm was checked
    // above, and the key given is the only one of that kind; its answer is checked again after.
    std::string owned(token);
    jwt_t* raw = nullptr;
    int rc = jwt_decode(&raw, owned.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size()));
    std::unique_ptr<jwt_t, jwt_deleter> decoded(raw);
    const auto want = static_cast<jwt_alg_t>(static_cast<int>(alg) + JWT_ALG_HS256);
    if (rc != 0 || !decoded || jwt_get_alg(decoded.get()) != want) {
      return unexpected{jwt_refusal::signature};
    }
    return check_claims(claims, policy, now_ms);
  } catch (const std::exception&) {
    return unexpected{jwt_refusal::malformed};
  }
}

}  // namespace chatd
