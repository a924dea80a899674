// UTF-8 validation for WebSocket text messages and close reasons. Chat traffic is mostly ASCII,
// so runs of ASCII are skipped eight bytes at a time; other bytes go through the table of
// RFC 3629 section 4 (which rules out overlongs, surrogates and code points above U+10FFFF).

#include "common/utf8.h"

#include <cstdint>
#include <cstring>

namespace chatd {

namespace {

constexpr uint64_t high_bits = 0x8080808080808080ull;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

bool valid_utf8(std::string_view s) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    // ASCII fast path: whole words with no high bit set.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof word);
      if (word & high_bits) break;
      p += 8;
    }
    if (p == end) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t left = static_cast<size_t>(end - p);
    if (c >= 0xC2 && c <= 0xDF) {
      if (left < 2 || !is_continuation(p[1])) return false;
      p += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (left < 3) return false;
      unsigned char c1 = p[1];
      // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates D800..DFFF).
      unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
      unsigned char hi = c == 0xED ? 0x9F : 0xBF;
      if (c1 < lo || c1 > hi || !is_continuation(p[2])) return false;
      p += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (left < 4) return false;
      unsigned char c1 = p[1];
      // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
      unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
      unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
      if (c1 < lo || c1 > hi || !is_continuation(p[2]) || !is_continuation(p[3])) return false;
      p += 4;
    } else {
      // 80..BF: a stray continuation; C0, C1: always overlong; F5..FF: beyond U+10FFFF.
      return false;
    }
  }
  return true;
}

}  // namespace chatd
