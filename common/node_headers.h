#pragma once
// HTTP request headers as Node's http module presents them (IncomingMessage.headers), for the
// handshake other nodes read back (fetchSockets): names lower-cased, in arrival order, and
// repeated headers merged as Node does (_addHeaderLine): set-cookie collects an array, cookie
// joins with "; ", the single-valued ones (host, user-agent, authorization, ...) keep the first,
// every other joins with ", ".

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatd {

// The headers as a JSON object.
std::string node_headers_json(const std::vector<std::pair<std::string_view, std::string_view>>& headers);

}  // namespace chatd
