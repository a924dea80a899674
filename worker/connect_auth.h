#pragma once
// auth: on the worker: the check a Socket.IO CONNECT passes before the application sees the
// socket. The token is the CONNECT payload's `token` (io(url, {auth: {token}})), else the
// handshake query's `token` parameter; common/jwt_verify.h verifies it, and the socket's channel
// must be one the token allows. Each verdict is counted in the worker's stats.

#include "common/config.h"
#include "common/expected.h"
#include "common/jwt_verify.h"
#include "common/stats.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd {

// The verified user, or why the CONNECT is refused. `now_ms` is wall-clock time (ms since the
// epoch): exp and nbf are dates.
expected<std::string, jwt_refusal> authenticate_connect(const auth_config& auth, worker_stats& stats,
                                                        std::string_view auth_json,
                                                        std::string_view query_json,
                                                        std::string_view channel, int64_t now_ms);

// The CONNECT_ERROR a refused socket gets:
// 44[/nsp,]{"message":"unauthorized","data":{"reason":"<jwt_refusal_text>"}}.
std::string unauthorized_packet(std::string_view nsp, jwt_refusal why);

}  // namespace chatd
