// worker/connect_auth: where a CONNECT's token is found (the CONNECT payload first, then the
// query), the channels claim against the socket's channel, the counters, and the exact
// CONNECT_ERROR a refused socket gets.

#include "common/jwt_keys.h"
#include "worker/connect_auth.h"

#include <doctest/doctest.h>
#include <jwt.h>

#include <cstdlib>
#include <ctime>
#include <string>

using namespace chatd;

namespace {

auth_config hs256_auth() {
  auth_config a;
  a.enabled = true;
  a.policy.algorithms = {signing_alg::hs256};
  a.keys.secret = "s3cret";
  return a;
}

std::string token_for(const std::string& claims, const std::string& key = "s3cret") {
  jwt_t* j = nullptr;
  REQUIRE(jwt_new(&j) == 0);
  REQUIRE(jwt_add_grants_json(j, claims.c_str()) == 0);
  REQUIRE(jwt_set_alg(j, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key.data()),
                      static_cast<int>(key.size())) == 0);
  char* out = jwt_encode_str(j);
  std::string t(out);
  free(out);
  jwt_free(j);
  return t;
}

const int64_t k_now_ms = static_cast<int64_t>(time(nullptr)) * 1000;

}  // namespace

TEST_CASE("connect auth: the token comes from the CONNECT payload, else from the query") {
  auth_config a = hs256_auth();
  worker_stats stats;
  std::string alice = token_for(R"({"sub":"alice"})"), bob = token_for(R"({"sub":"bob"})");
  auto from_auth = authenticate_connect(a, stats, R"({"token":")" + alice + "\"}",
                                        R"({"channel":"r","token":")" + bob + "\"}", "r", k_now_ms);
  REQUIRE(from_auth.has_value());
  CHECK(*from_auth == "alice");
  auto from_query = authenticate_connect(a, stats, "", R"({"channel":"r","token":")" + bob + "\"}",
                                         "r", k_now_ms);
  REQUIRE(from_query.has_value());
  CHECK(*from_query == "bob");
  CHECK(stats.auth_accepted_total.load() == 2);
}

TEST_CASE("connect auth: no token is missing, a token that is not a string malformed; both counted") {
  auth_config a = hs256_auth();
  worker_stats stats;
  CHECK(authenticate_connect(a, stats, "{}", R"({"channel":"r"})", "r", k_now_ms).error() ==
        jwt_refusal::missing);
  CHECK(authenticate_connect(a, stats, R"({"token":42})", "{}", "r", k_now_ms).error() ==
        jwt_refusal::malformed);
  CHECK(stats.auth_refused_total[static_cast<size_t>(jwt_refusal::missing)].load() == 1);
  CHECK(stats.auth_refused_total[static_cast<size_t>(jwt_refusal::malformed)].load() == 1);
  CHECK(stats.auth_accepted_total.load() == 0);
}

TEST_CASE("connect auth: with a channels claim, only a listed channel may be joined") {
  auth_config a = hs256_auth();
  a.policy.channels_claim = "channels";
  worker_stats stats;
  std::string t = R"({"token":")" + token_for(R"({"sub":"a","channels":["r1"]})") + "\"}";
  CHECK(authenticate_connect(a, stats, t, "{}", "r1", k_now_ms).has_value());
  CHECK(authenticate_connect(a, stats, t, "{}", "r2", k_now_ms).error() == jwt_refusal::channels);
}

TEST_CASE("connect auth: a refused socket gets unauthorized with the reason in data") {
  CHECK(unauthorized_packet("/", jwt_refusal::expired) ==
        R"(44{"message":"unauthorized","data":{"reason":"token expired"}})");
  CHECK(unauthorized_packet("/admin", jwt_refusal::expired) ==
        R"(44/admin,{"message":"unauthorized","data":{"reason":"token expired"}})");
}
