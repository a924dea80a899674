#pragma once
// Test helper: byte strings written as hex (msgpack golden vectors), on common/hex's parser.

#include <string>
#include <string_view>

#include "common/hex.h"

namespace chatd::test {

// "93a2" -> "\x93\xa2"; stops at the first pair that is not two hex digits.
inline std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    int byte = hex_byte(hex, i);
    if (byte < 0) break;
    out += static_cast<char>(byte);
  }
  return out;
}

// Lower-case hex of `bytes`, for failure messages that show both sides.
inline std::string to_hex(std::string_view bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += k_hex[c >> 4];
    out += k_hex[c & 0xf];
  }
  return out;
}

}  // namespace chatd::test
