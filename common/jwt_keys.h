#pragma once
// The keys a JWT verifier (common/jwt_verify.h) checks signatures with, read from the files the
// config names: an HMAC secret, one PEM public key, or a JWKS (RFC 7517) whose keys are picked
// by `kid`. Read once, when the config is loaded (at start and on each reload); a file that is
// missing, unreadable or holds no usable key is an error with the reason. Each key keeps what it
// may verify (its family, and for EC its curve), so a token can never pick a key of another kind.

#include "common/expected.h"

#include <string>
#include <string_view>
#include <vector>

namespace chatd {

// The signature algorithms chatd accepts; `none` is not one of them, by construction.
enum class signing_alg : uint8_t { hs256, hs384, hs512, rs256, rs384, rs512, es256, es384, es512 };

// "HS256" -> hs256 ...; false for anything else, "none" included.
bool parse_signing_alg(std::string_view name, signing_alg& out);
std::string_view signing_alg_name(signing_alg a);
bool is_hmac(signing_alg a);

// A public key as PEM (what libjwt takes), and what it can verify.
struct jwt_public_key {
  std::string kid;   // empty for public_key_file
  std::string pem;   // SubjectPublicKeyInfo
  bool rsa = false;  // else EC
  std::string curve; // EC only: "P-256", "P-384" or "P-521"
  std::string alg;   // the JWK's own `alg`, when it names one: only that one may use the key
  // Whether this key may check a signature made with `a`.
  bool verifies(signing_alg a) const;
};

struct jwt_keyset {
  std::string secret;                // HS*: the secret file's bytes, one trailing newline cut
  std::vector<jwt_public_key> keys;  // RS*/ES*: public_key_file's key, or the JWKS's keys
  bool from_jwks = false;            // keys came from a JWKS: a token names its key by kid
};

// Reads an HMAC secret. Its last "\n" (or "\r\n") is cut: `echo secret > file` is the usual
// mistake. An empty secret is an error.
expected<std::string, std::string> read_jwt_secret(const std::string& path);
// Reads one PEM public key (RSA or EC).
expected<jwt_public_key, std::string> read_jwt_public_key(const std::string& path);
// Reads a JWKS file ({"keys": [...]}): RSA and EC (P-256/384/521) signature keys; keys of
// another type or with `use` other than "sig" are skipped; none left is an error.
expected<std::vector<jwt_public_key>, std::string> read_jwks(const std::string& path);
// Same, from the text of a JWKS document.
expected<std::vector<jwt_public_key>, std::string> parse_jwks(std::string_view json);

}  // namespace chatd
