// common/jwt_verify and common/jwt_keys: tokens made here with libjwt's encoder and the test-only
// keys of tests/fixtures/jwt (README there); every refusal reason, the leeway on exp and nbf,
// algorithm confusion (none, an algorithm not configured, HS256 keyed with the RSA public key),
// and a JWKS key picked by kid.

#include "common/base64.h"
#include "common/jwt_keys.h"
#include "common/jwt_verify.h"
#include "common/read_file.h"

#include <doctest/doctest.h>
#include <jwt.h>

#include <cstdlib>
#include <memory>
#include <string>

using namespace chatd;

namespace {

const std::string k_dir = CHATD_SOURCE_DIR "/tests/fixtures/jwt/";
constexpr int64_t k_now_ms = 1'800'000'000'000;  // a fixed "now", in 2027
constexpr int64_t k_now = k_now_ms / 1000;

std::string fixture(const std::string& name) {
  auto text = read_small_file(k_dir + name, 1 << 20);
  REQUIRE_MESSAGE(text.has_value(), name);
  return *text;
}

std::string secret() { return *read_jwt_secret(k_dir + "hs_secret.txt"); }

// A token signed by libjwt: `alg` with `key` (the secret, or a private key PEM), the claims as
// JSON, and a kid header when given.
std::string make_token(jwt_alg_t alg, const std::string& key, const std::string& claims,
                       const std::string& kid = {}) {
  jwt_t* raw = nullptr;
  REQUIRE(jwt_new(&raw) == 0);
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> j(raw, jwt_free);
  REQUIRE(jwt_add_grants_json(j.get(), claims.c_str()) == 0);
  if (!kid.empty()) REQUIRE(jwt_add_header(j.get(), "kid", kid.c_str()) == 0);
  REQUIRE(jwt_set_alg(j.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                      static_cast<int>(key.size())) == 0);
  char* out = jwt_encode_str(j.get());
  REQUIRE(out != nullptr);
  std::string token(out);
  free(out);
  return token;
}

std::string hs256(const std::string& claims) { return make_token(JWT_ALG_HS256, secret(), claims); }

jwt_policy policy_of(std::initializer_list<signing_alg> algs) {
  jwt_policy p;
  p.algorithms = algs;
  return p;
}

jwt_keyset hmac_keys() {
  jwt_keyset k;
  k.secret = secret();
  return k;
}

jwt_keyset pem_keys(const std::string& file) {
  jwt_keyset k;
  auto key = read_jwt_public_key(k_dir + file);
  REQUIRE_MESSAGE(key.has_value(), (key ? std::string() : key.error()));
  k.keys.push_back(*key);
  return k;
}

jwt_keyset jwks_keys() {
  jwt_keyset k;
  auto keys = read_jwks(k_dir + "jwks.json");
  REQUIRE_MESSAGE(keys.has_value(), (keys ? std::string() : keys.error()));
  k.keys = *keys;
  k.from_jwks = true;
  return k;
}

// The refusal, or "accepted as <user>", so a failing CHECK prints what happened.
std::string outcome(const std::string& token, const jwt_policy& p, const jwt_keyset& k,
                    int64_t now_ms = k_now_ms) {
  auto r = jwt_verify(token, p, k, now_ms);
  if (r) return "accepted as " + r->user;
  return std::string(jwt_refusal_label(r.error()));
}

std::string claims_with(const std::string& extra) {
  return R"({"sub":"alice")" + (extra.empty() ? "" : "," + extra) + "}";
}

std::string segment(const std::string& json) { return base64::encode_url(json); }

}  // namespace

TEST_CASE("jwt: an HS256 token with the configured secret is accepted as its sub") {
  CHECK(outcome(hs256(claims_with("")), policy_of({signing_alg::hs256}), hmac_keys()) ==
        "accepted as alice");
}

TEST_CASE("jwt: a missing token is refused as missing") {
  CHECK(outcome("", policy_of({signing_alg::hs256}), hmac_keys()) == "missing");
}

TEST_CASE("jwt: a token that is not three base64url JSON segments is malformed") {
  jwt_policy p = policy_of({signing_alg::hs256});
  CHECK(outcome("abc", p, hmac_keys()) == "malformed");
  CHECK(outcome("a.b", p, hmac_keys()) == "malformed");
  CHECK(outcome("a.b.c.d", p, hmac_keys()) == "malformed");
  CHECK(outcome(segment("[1]") + "." + segment("{}") + ".sig", p, hmac_keys()) == "malformed");
  CHECK(outcome(segment(R"({"alg":"HS256"})") + ".!!!.sig", p, hmac_keys()) == "malformed");
  CHECK(outcome(segment(R"({"typ":"JWT"})") + "." + segment("{}") + ".sig", p, hmac_keys()) ==
        "malformed");
}

TEST_CASE("jwt: a signature made with another secret is refused as signature") {
  std::string token = make_token(JWT_ALG_HS256, "another secret", claims_with(""));
  CHECK(outcome(token, policy_of({signing_alg::hs256}), hmac_keys()) == "signature");
}

TEST_CASE("jwt: a changed payload under the original signature is refused as signature") {
  std::string token = hs256(claims_with(""));
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string forged = token.substr(0, dot1 + 1) + segment(R"({"sub":"mallory"})") + token.substr(dot2);
  CHECK(outcome(forged, policy_of({signing_alg::hs256}), hmac_keys()) == "signature");
}

TEST_CASE("jwt: alg none is never accepted, signed or not") {
  jwt_policy p = policy_of({signing_alg::hs256, signing_alg::rs256});
  std::string head = segment(R"({"alg":"none","typ":"JWT"})"), body = segment(claims_with(""));
  CHECK(outcome(head + "." + body + ".", p, hmac_keys()) == "algorithm");
  CHECK(outcome(head + "." + body + ".c2ln", p, hmac_keys()) == "algorithm");
}

TEST_CASE("jwt: an algorithm not configured is refused even with a valid signature") {
  std::string hs512 = make_token(JWT_ALG_HS512, secret(), claims_with(""));
  CHECK(outcome(hs512, policy_of({signing_alg::hs256}), hmac_keys()) == "algorithm");
  std::string rs256 = make_token(JWT_ALG_RS256, fixture("rsa_private.pem"), claims_with(""));
  CHECK(outcome(rs256, policy_of({signing_alg::hs256}), pem_keys("rsa_public.pem")) == "algorithm");
}

TEST_CASE("jwt: HS256 signed with the RSA public key as its secret is refused (alg confusion)") {
  std::string pub = fixture("rsa_public.pem");
  std::string forged = make_token(JWT_ALG_HS256, pub, claims_with(""));
  // Only RS256 configured: the HS256 token is an algorithm not allowed.
  CHECK(outcome(forged, policy_of({signing_alg::rs256}), pem_keys("rsa_public.pem")) == "algorithm");
  // Both configured: HS256 is checked with the secret, never with the public key.
  jwt_keyset both = pem_keys("rsa_public.pem");
  both.secret = secret();
  CHECK(outcome(forged, policy_of({signing_alg::hs256, signing_alg::rs256}), both) == "signature");
  // And with no secret at all, HS256 has no key of its kind.
  CHECK(outcome(forged, policy_of({signing_alg::hs256, signing_alg::rs256}), pem_keys("rsa_public.pem")) ==
        "algorithm");
}

TEST_CASE("jwt: RS256 and ES256 tokens verify against their PEM public keys") {
  std::string rs = make_token(JWT_ALG_RS256, fixture("rsa_private.pem"), claims_with(""));
  std::string es = make_token(JWT_ALG_ES256, fixture("ec_private.pem"), claims_with(""));
  jwt_policy p = policy_of({signing_alg::rs256, signing_alg::es256});
  CHECK(outcome(rs, p, pem_keys("rsa_public.pem")) == "accepted as alice");
  CHECK(outcome(es, p, pem_keys("ec_public.pem")) == "accepted as alice");
  CHECK(outcome(rs, p, pem_keys("rsa2_public.pem")) == "signature");
  // An ES256 token never gets the RSA key (nor the reverse).
  CHECK(outcome(es, p, pem_keys("rsa_public.pem")) == "algorithm");
  CHECK(outcome(rs, p, pem_keys("ec_public.pem")) == "algorithm");
}

TEST_CASE("jwt: exp in the past is refused as expired, unless within the leeway") {
  std::string token = hs256(claims_with("\"exp\":" + std::to_string(k_now - 10)));
  jwt_policy p = policy_of({signing_alg::hs256});
  p.leeway_ms = 0;
  CHECK(outcome(token, p, hmac_keys()) == "expired");
  p.leeway_ms = 9000;
  CHECK(outcome(token, p, hmac_keys()) == "expired");
  p.leeway_ms = 11000;
  CHECK(outcome(token, p, hmac_keys()) == "accepted as alice");
  // The instant of exp is already too late (RFC 7519 4.1.4: "on or after").
  p.leeway_ms = 0;
  CHECK(outcome(token, p, hmac_keys(), (k_now - 10) * 1000) == "expired");
  CHECK(outcome(token, p, hmac_keys(), (k_now - 10) * 1000 - 1) == "accepted as alice");
}

TEST_CASE("jwt: nbf in the future is refused as not_yet_valid, unless within the leeway") {
  std::string token = hs256(claims_with("\"nbf\":" + std::to_string(k_now + 10)));
  jwt_policy p = policy_of({signing_alg::hs256});
  p.leeway_ms = 0;
  CHECK(outcome(token, p, hmac_keys()) == "not_yet_valid");
  p.leeway_ms = 10000;
  CHECK(outcome(token, p, hmac_keys()) == "accepted as alice");
}

TEST_CASE("jwt: exp or nbf that is not a number is malformed") {
  jwt_policy p = policy_of({signing_alg::hs256});
  CHECK(outcome(hs256(claims_with(R"("exp":"tomorrow")")), p, hmac_keys()) == "malformed");
  CHECK(outcome(hs256(claims_with(R"("nbf":null)")), p, hmac_keys()) == "malformed");
}

TEST_CASE("jwt: a configured issuer must be the token's iss") {
  jwt_policy p = policy_of({signing_alg::hs256});
  p.issuer = "https://issuer.example";
  CHECK(outcome(hs256(claims_with(R"("iss":"https://issuer.example")")), p, hmac_keys()) ==
        "accepted as alice");
  CHECK(outcome(hs256(claims_with(R"("iss":"https://evil.example")")), p, hmac_keys()) == "issuer");
  CHECK(outcome(hs256(claims_with("")), p, hmac_keys()) == "issuer");
}

TEST_CASE("jwt: a configured audience must be aud, or one entry of an aud list") {
  jwt_policy p = policy_of({signing_alg::hs256});
  p.audience = "chatd";
  CHECK(outcome(hs256(claims_with(R"("aud":"chatd")")), p, hmac_keys()) == "accepted as alice");
  CHECK(outcome(hs256(claims_with(R"("aud":["web","chatd"])")), p, hmac_keys()) ==
        "accepted as alice");
  CHECK(outcome(hs256(claims_with(R"("aud":"web")")), p, hmac_keys()) == "audience");
  CHECK(outcome(hs256(claims_with(R"("aud":["web"])")), p, hmac_keys()) == "audience");
  CHECK(outcome(hs256(claims_with("")), p, hmac_keys()) == "audience");
}

TEST_CASE("jwt: the user claim must be a non-empty string; user_claim names it") {
  jwt_policy p = policy_of({signing_alg::hs256});
  CHECK(outcome(hs256(R"({"name":"x"})"), p, hmac_keys()) == "user");
  CHECK(outcome(hs256(R"({"sub":""})"), p, hmac_keys()) == "user");
  CHECK(outcome(hs256(R"({"sub":42})"), p, hmac_keys()) == "user");
  p.user_claim = "uid";
  CHECK(outcome(hs256(R"({"sub":"alice","uid":"u-7"})"), p, hmac_keys()) == "accepted as u-7");
}

TEST_CASE("jwt: the channels claim lists the channels the token may join") {
  jwt_policy p = policy_of({signing_alg::hs256});
  p.channels_claim = "channels";
  auto id = jwt_verify(hs256(claims_with(R"("channels":["r1","r2"])")), p, hmac_keys(), k_now_ms);
  REQUIRE(id.has_value());
  CHECK(id->may_join("r1"));
  CHECK(id->may_join("r2"));
  CHECK_FALSE(id->may_join("r3"));
  // Absent: no channel at all; not a list of strings: refused.
  auto none = jwt_verify(hs256(claims_with("")), p, hmac_keys(), k_now_ms);
  REQUIRE(none.has_value());
  CHECK_FALSE(none->may_join("r1"));
  CHECK(outcome(hs256(claims_with(R"("channels":"r1")")), p, hmac_keys()) == "channels");
  CHECK(outcome(hs256(claims_with(R"("channels":[1])")), p, hmac_keys()) == "channels");
  // Without a channels claim configured, any channel.
  p.channels_claim.clear();
  auto any = jwt_verify(hs256(claims_with("")), p, hmac_keys(), k_now_ms);
  REQUIRE(any.has_value());
  CHECK(any->may_join("anything"));
}

TEST_CASE("jwks: the key is picked by kid, and must be of the token's kind") {
  jwt_policy p = policy_of({signing_alg::rs256, signing_alg::es256});
  jwt_keyset k = jwks_keys();
  REQUIRE(k.keys.size() == 3);
  std::string rsa1 = fixture("rsa_private.pem"), rsa2 = fixture("rsa2_private.pem");
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa1, claims_with(""), "rsa-1"), p, k) == "accepted as alice");
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa2, claims_with(""), "rsa-2"), p, k) == "accepted as alice");
  CHECK(outcome(make_token(JWT_ALG_ES256, fixture("ec_private.pem"), claims_with(""), "ec-1"), p, k) ==
        "accepted as alice");
  // The kid names another key than the one that signed: its signature does not verify.
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa2, claims_with(""), "rsa-1"), p, k) == "signature");
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa1, claims_with(""), "rsa-9"), p, k) == "unknown_key");
  // An RS256 token naming the EC key.
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa1, claims_with(""), "ec-1"), p, k) == "algorithm");
  // No kid: two RSA keys fit, so none is chosen; the one EC key is unambiguous.
  CHECK(outcome(make_token(JWT_ALG_RS256, rsa1, claims_with("")), p, k) == "unknown_key");
  CHECK(outcome(make_token(JWT_ALG_ES256, fixture("ec_private.pem"), claims_with("")), p, k) ==
        "accepted as alice");
}

TEST_CASE("jwks: a key's own alg restricts it to that algorithm") {
  auto keys = parse_jwks(R"({"keys":[)" + std::string() + R"(]})");
  CHECK_FALSE(keys.has_value());
  jwt_keyset k = jwks_keys();
  for (jwt_public_key& key : k.keys) key.alg = key.rsa ? "RS512" : key.alg;
  jwt_policy p = policy_of({signing_alg::rs256, signing_alg::rs512});
  CHECK(outcome(make_token(JWT_ALG_RS256, fixture("rsa_private.pem"), claims_with(""), "rsa-1"), p, k) ==
        "algorithm");
  CHECK(outcome(make_token(JWT_ALG_RS512, fixture("rsa_private.pem"), claims_with(""), "rsa-1"), p, k) ==
        "accepted as alice");
}

TEST_CASE("jwt keys: files that hold no usable key are refused with the reason") {
  CHECK(read_jwt_secret(k_dir + "absent").error().starts_with("cannot open: "));
  CHECK(read_jwt_public_key(k_dir + "hs_secret.txt").error().starts_with("not a PEM public key"));
  CHECK(read_jwt_public_key(k_dir + "rsa_private.pem").error().starts_with("not a PEM public key"));
  CHECK(read_jwks(k_dir + "rsa_public.pem").error() == "not valid JSON");
  CHECK(parse_jwks(R"({"kid":"x"})").error().find("\"keys\" array") != std::string::npos);
  CHECK(parse_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})").error().starts_with("no RSA or EC"));
  CHECK(parse_jwks(R"({"keys":[{"kty":"RSA","n":"AQAB"}]})").error().starts_with("keys[0]: "));
  CHECK(parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})")
            .error()
            .starts_with("keys[0]: "));
  // A secret's one trailing newline is not part of it.
  CHECK(secret() == "test-secret-of-the-fixtures-0123456789");
}

TEST_CASE("jwt: every refusal has a label and a sentence") {
  for (size_t i = 0; i < k_jwt_refusals; ++i) {
    CHECK_FALSE(jwt_refusal_label(static_cast<jwt_refusal>(i)).empty());
    CHECK_FALSE(jwt_refusal_text(static_cast<jwt_refusal>(i)).empty());
  }
  CHECK(jwt_refusal_text(jwt_refusal::expired) == "token expired");
}
