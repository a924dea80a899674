#pragma once
// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), for WebSocket
// text frames and close reasons (RFC 6455 says invalid UTF-8 fails the connection with 1007).

#include <string_view>

namespace chatd {

bool valid_utf8(std::string_view s);

}  // namespace chatd
