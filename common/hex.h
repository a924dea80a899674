#pragma once
// Hexadecimal digits, the one parser for them: percent-escapes (URL queries, Redis URLs) and the
// four digits of JSON \uXXXX escapes. Header-only and constexpr: it sits inside scanning loops.

#include <cstddef>
#include <string_view>

namespace chatd {

// The value of one hex digit (either case), or -1 when `c` is not one.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte written as two hex digits at s[at], or -1 when there are not two digits there.
constexpr int hex_byte(std::string_view s, size_t at) {
  if (at + 2 > s.size()) return -1;
  int hi = hex_value(s[at]);
  int lo = hex_value(s[at + 1]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// The 16-bit value written as four hex digits at s[at], or -1 when there are not four there.
constexpr int hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    int d = hex_value(s[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace chatd
