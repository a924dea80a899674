// JWT verification keys from files (common/jwt_keys.h): an HMAC secret, a PEM public key, a JWKS.
// OpenSSL parses the PEM (so a bad file fails at load, not at the first token) and turns each
// JWK into the PEM libjwt wants. Nothing here runs per token.

#include "common/jwt_keys.h"

#include "common/base64.h"
#include "common/read_file.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <array>
#include <memory>

namespace chatd {
namespace {

// A key file is at most a few KiB; a JWKS of many keys still fits well under this.
constexpr size_t k_max_key_file = 1024 * 1024;

constexpr std::array<std::string_view, 9> k_alg_names = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"};

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// OpenSSL's group names and JOSE's curve names for the three curves JWS uses.
std::string jose_curve(std::string_view openssl_group) {
  if (openssl_group == "prime256v1" || openssl_group == "P-256") return "P-256";
  if (openssl_group == "secp384r1" || openssl_group == "P-384") return "P-384";
  if (openssl_group == "secp521r1" || openssl_group == "P-521") return "P-521";
  return {};
}

// The key's PEM and kind; an error for a key that is neither RSA nor EC on a JWS curve.
expected<jwt_public_key, std::string> describe(EVP_PKEY* k) {
  jwt_public_key out;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
    out.rsa = true;
  } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
      return unexpected{std::string("an EC key without a named curve")};
    }
    out.curve = jose_curve(group);
    if (out.curve.empty()) {
      return unexpected{fmt::format("EC curve {} is not one JWS uses (P-256, P-384, P-521)", group)};
    }
  } else {
    return unexpected{std::string("not an RSA or EC public key")};
  }
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio, k) != 1) {
    BIO_free(bio);
    return unexpected{std::string("cannot write the key as PEM")};
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  out.pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// An EVP_PKEY from OSSL_PARAMs built by `push` (RSA n/e, or EC group and point).
template <class Push>
pkey_ptr key_from_params(const char* type, Push push) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  std::vector<BIGNUM*> bns;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  if (push(bld, bns)) params = OSSL_PARAM_BLD_to_param(bld);
  if (params != nullptr) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    if (ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    }
    EVP_PKEY_CTX_free(ctx);
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (BIGNUM* b : bns) BN_free(b);
  return pkey_ptr(key);
}

using simdjson::dom::element;
using simdjson::dom::object;

// A base64url member of a JWK, decoded; empty when absent or malformed.
std::string b64_member(object jwk, const char* name) {
  std::string_view text;
  if (jwk[name].get(text) != simdjson::SUCCESS) return {};
  return base64::decode_url(text).value_or(std::string());
}

expected<jwt_public_key, std::string> rsa_jwk(object jwk) {
  std::string n = b64_member(jwk, "n"), e = b64_member(jwk, "e");
  if (n.empty() || e.empty()) return unexpected{std::string("an RSA key needs base64url n and e")};
  pkey_ptr key = key_from_params("RSA", [&](OSSL_PARAM_BLD* bld, std::vector<BIGNUM*>& bns) {
    for (const std::string* part : {&n, &e}) {
      bns.push_back(BN_bin2bn(reinterpret_cast<const unsigned char*>(part->data()),
                              static_cast<int>(part->size()), nullptr));
      if (bns.back() == nullptr) return false;
    }
    return OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bns[0]) == 1 &&
           OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bns[1]) == 1;
  });
  if (!key) return unexpected{std::string("OpenSSL refused the RSA key")};
  return describe(key.get());
}

expected<jwt_public_key, std::string> ec_jwk(object jwk) {
  std::string_view crv;
  if (jwk["crv"].get(crv) != simdjson::SUCCESS || jose_curve(crv).empty() ||
      jose_curve(crv) != crv) {
    return unexpected{std::string("an EC key needs crv P-256, P-384 or P-521")};
  }
  std::string x = b64_member(jwk, "x"), y = b64_member(jwk, "y");
  if (x.empty() || x.size() != y.size()) return unexpected{std::string("an EC key needs x and y")};
  std::string point = "\x04" + x + y;  // uncompressed point
  std::string group(crv);
  pkey_ptr key = key_from_params("EC", [&](OSSL_PARAM_BLD* bld, std::vector<BIGNUM*>&) {
    return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) == 1 &&
           OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                            point.size()) == 1;
  });
  if (!key) return unexpected{std::string("OpenSSL refused the EC key (is the point on the curve?)")};
  return describe(key.get());
}

}  // namespace

bool parse_signing_alg(std::string_view name, signing_alg& out) {
  for (size_t i = 0; i < k_alg_names.size(); ++i) {
    if (k_alg_names[i] == name) {
      out = static_cast<signing_alg>(i);
      return true;
    }
  }
  return false;
}

std::string_view signing_alg_name(signing_alg a) { return k_alg_names[static_cast<size_t>(a)]; }

bool is_hmac(signing_alg a) { return a <= signing_alg::hs512; }

bool jwt_public_key::verifies(signing_alg a) const {
  if (!alg.empty() && alg != signing_alg_name(a)) return false;
  switch (a) {
    case signing_alg::rs256:
    case signing_alg::rs384:
    case signing_alg::rs512:
      return rsa;
    case signing_alg::es256:
      return !rsa && curve == "P-256";
    case signing_alg::es384:
      return !rsa && curve == "P-384";
    case signing_alg::es512:
      return !rsa && curve == "P-521";
    default:
      return false;
  }
}

expected<std::string, std::string> read_jwt_secret(const std::string& path) {
  auto text = read_small_file(path, k_max_key_file);
  if (!text) return text;
  std::string secret = std::move(*text);
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return unexpected{std::string("the secret is empty")};
  return secret;
}

expected<jwt_public_key, std::string> read_jwt_public_key(const std::string& path) {
  auto text = read_small_file(path, k_max_key_file);
  if (!text) return unexpected{text.error()};
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  pkey_ptr key(bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr);
  BIO_free(bio);
  if (!key) return unexpected{std::string("not a PEM public key (-----BEGIN PUBLIC KEY-----)")};
  return describe(key.get());
}

expected<std::vector<jwt_public_key>, std::string> parse_jwks(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return unexpected{std::string("not valid JSON")};
  }
  simdjson::dom::array keys;
  if (doc["keys"].get(keys) != simdjson::SUCCESS) {
    return unexpected{std::string("a JWKS is an object with a \"keys\" array")};
  }
  std::vector<jwt_public_key> out;
  size_t index = 0;
  for (element item : keys) {
    object jwk;
    if (item.get(jwk) != simdjson::SUCCESS) return unexpected{fmt::format("keys[{}]: not an object", index)};
    std::string_view kty, use, kid, alg;
    if (jwk["kty"].get(kty) != simdjson::SUCCESS) kty = {};
    bool for_signatures = jwk["use"].get(use) != simdjson::SUCCESS || use == "sig";
    if (for_signatures && (kty == "RSA" || kty == "EC")) {
      auto key = kty == "RSA" ? rsa_jwk(jwk) : ec_jwk(jwk);
      if (!key) return unexpected{fmt::format("keys[{}]: {}", index, key.error())};
      if (jwk["kid"].get(kid) == simdjson::SUCCESS) key->kid = kid;
      if (jwk["alg"].get(alg) == simdjson::SUCCESS) key->alg = alg;
      out.push_back(std::move(*key));
    }
    ++index;
  }
  if (out.empty()) return unexpected{std::string("no RSA or EC signature key in \"keys\"")};
  return out;
}

expected<std::vector<jwt_public_key>, std::string> read_jwks(const std::string& path) {
  auto text = read_small_file(path, k_max_key_file);
  if (!text) return unexpected{text.error()};
  return parse_jwks(*text);
}

}  // namespace chatd
