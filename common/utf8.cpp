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


// WHATWG UTF-8 decoder bounds.
utf8_step next_utf8(std::string_view s, size_t i) {
  const auto b = static_cast<uint8_t>(s[i]);
  int need = 0;
  uint8_t lower = 0x80;
  uint8_t upper = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) {
    need = 1;
  } else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    lower = b == 0xe0 ? 0xa0 : 0x80;
    upper = b == 0xed ? 0x9f : 0xbf;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    lower = b == 0xf0 ? 0x90 : 0x80;
    upper = b == 0xf4 ? 0x8f : 0xbf;
  } else {
    return {1, false};
  }
  size_t j = i + 1;
  for (int k = 0; k < need; ++k, ++j) {
    if (j >= s.size()) {
      return {j - i, false};
    }
    const auto c = static_cast<uint8_t>(s[j]);
    if (c < lower || c > upper) {
      return {j - i, false};
    }
    lower = 0x80;
    upper = 0xbf;
  }
  return {j - i, true};
}

std::string utf8_repaired(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      out += s[i++];
      continue;
    }
    const utf8_step step = next_utf8(s, i);
    out.append(step.ok ? s.substr(i, step.len) : k_replacement_char);
    i += step.len;
  }
  return out;
}

}  // namespace chatd
