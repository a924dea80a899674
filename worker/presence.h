#pragma once
// GET /presence?room=<room>: who is in a room across the whole fleet (chatd's workers and any
// Node server on the same Redis adapter), asked with REMOTE_FETCH through this worker's adapter
// node and answered when every node Redis counts has answered, or at adapter.requests_timeout
// with the silent ones counted as missing. The answer is JSON:
//   {"room":…, "sockets":[{"id":…, "userId":…, "node":…}],
//    "nodes":{"answered":N, "missing":["unanswered-1",…]}, "elapsed_ms":…}
// `answered` includes the asking worker; classic adapter answers carry no node id, so `node` is
// the worker's uid for its own sockets and "answer-<n>" for the n-th answer, and a missing node
// can only be counted, not named.

#include "worker/adapter_node.h"

#include <string>
#include <string_view>

namespace chatd {

class connection;

// Routes GET /presence (any other method: 405; no room: 400).
void presence_route(connection& c, std::string_view query, bool get, bool keep_alive);

// The JSON body for `room` from a fetch's result.
std::string render_presence(std::string_view room, const adapter_node::fetch_result& r);

}  // namespace chatd
