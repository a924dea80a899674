#pragma once
// Base64 (RFC 4648), the one implementation in chatd: the standard padded alphabet for Engine.IO
// binary packets on long-polling and the WebSocket keys, the URL-safe unpadded one for session ids.

#include <optional>
#include <string>
#include <string_view>

namespace chatd::base64 {

// Standard alphabet, '=' padded: what Engine.IO's 'b' packets and Sec-WebSocket-Key/-Accept use.
std::string encode(std::string_view bytes);
// Padded standard form only: a multiple of 4 characters, at most two '=' and only at the very
// end; nullopt for anything else. Bits left over by the padding are not checked.
std::optional<std::string> decode(std::string_view text);

// URL-safe alphabet ('-' and '_'), no padding: engine.io's base64id form of session ids.
std::string encode_url(std::string_view bytes);
// URL-safe alphabet, unpadded (RFC 7515's base64url: JWT segments); nullopt for a character
// outside it, '=' included, or an impossible length.
std::optional<std::string> decode_url(std::string_view text);
// The 6-bit value of `c` in the URL-safe alphabet, or -1 when `c` is not in it.
int url_value(char c);

}  // namespace chatd::base64
