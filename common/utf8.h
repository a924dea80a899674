#pragma once
// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), for WebSocket
// text frames and close reasons (RFC 6455 says invalid UTF-8 fails the connection with 1007).

#include <cstddef>
#include <string>
#include <string_view>

namespace chatd {

bool valid_utf8(std::string_view s);

// Node's Buffer#toString("utf8") (the WHATWG decoder): each maximal ill-formed subsequence
// becomes U+FFFD. What chatd echoes back (handshake query, bus payloads) is repaired this way, so
// it stays valid UTF-8 and equal to what a Node server would send.
inline constexpr std::string_view k_replacement_char = "\xEF\xBF\xBD";
struct utf8_step {
  size_t len;  // bytes of the sequence, or of its maximal ill-formed subpart
  bool ok;
};
// The non-ASCII sequence starting at s[i].
utf8_step next_utf8(std::string_view s, size_t i);
std::string utf8_repaired(std::string_view s);

}  // namespace chatd
