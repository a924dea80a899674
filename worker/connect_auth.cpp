// The CONNECT's token check (worker/connect_auth.h): find the token, verify it, check the channel.

#include "worker/connect_auth.h"

#include "common/json_member.h"
#include "common/json_text.h"
#include "common/socketio.h"

namespace chatd {
namespace {

// The `token` of the CONNECT payload, else of the query; a token that is not a string is
// malformed, none at all missing.
expected<std::string, jwt_refusal> find_token(std::string_view auth_json, std::string_view query_json) {
  for (std::string_view where : {auth_json, query_json}) {
    json_string_member m = json_get_string_member(where, "token");
    if (m.state == json_member_state::string) return std::move(m.value);
    if (m.state == json_member_state::not_string) return unexpected{jwt_refusal::malformed};
  }
  return unexpected{jwt_refusal::missing};
}

}  // namespace

expected<std::string, jwt_refusal> authenticate_connect(const auth_config& auth, worker_stats& stats,
                                                        std::string_view auth_json,
                                                        std::string_view query_json,
                                                        std::string_view channel, int64_t now_ms) {
  auto verdict = [&]() -> expected<std::string, jwt_refusal> {
    auto token = find_token(auth_json, query_json);
    if (!token) return unexpected{token.error()};
    auto id = jwt_verify(*token, auth.policy, auth.keys, now_ms);
    if (!id) return unexpected{id.error()};
    if (!id->may_join(channel)) return unexpected{jwt_refusal::channels};
    return std::move(id->user);
  }();
  if (verdict) {
    stats.auth_accepted_total.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats.auth_refused_total[static_cast<size_t>(verdict.error())].fetch_add(1, std::memory_order_relaxed);
  }
  return verdict;
}

std::string unauthorized_packet(std::string_view nsp, jwt_refusal why) {
  std::string data = "{\"reason\":";
  append_json_string(data, jwt_refusal_text(why));
  data.push_back('}');
  return sio::encode_connect_error(nsp, "unauthorized", data);
}

}  // namespace chatd
