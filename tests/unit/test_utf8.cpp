// valid_utf8: RFC 3629 boundaries, every kind of ill-formed sequence, and the ASCII fast path's
// word boundaries.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "common/utf8.h"

using chatd::valid_utf8;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// An independent decoder: reads a code point by its bit pattern, then rejects what RFC 3629
// forbids. Used to check valid_utf8 exhaustively on short strings.
bool reference_valid(const unsigned char* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("utf8: empty and ASCII text are valid") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("a"));
  CHECK(valid_utf8("hello, world"));
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii.push_back(static_cast<char>(c));
  CHECK(valid_utf8(all_ascii));
}

TEST_CASE("utf8: boundary code points of every length are valid") {
  CHECK(valid_utf8(bytes({0xC2, 0x80})));              // U+0080
  CHECK(valid_utf8(bytes({0xDF, 0xBF})));              // U+07FF
  CHECK(valid_utf8(bytes({0xE0, 0xA0, 0x80})));        // U+0800
  CHECK(valid_utf8(bytes({0xED, 0x9F, 0xBF})));        // U+D7FF
  CHECK(valid_utf8(bytes({0xEE, 0x80, 0x80})));        // U+E000
  CHECK(valid_utf8(bytes({0xEF, 0xBF, 0xBF})));        // U+FFFF
  CHECK(valid_utf8(bytes({0xF0, 0x90, 0x80, 0x80})));  // U+10000
  CHECK(valid_utf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF
  CHECK(valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // "κόσμε"
  CHECK(valid_utf8("\xF0\x9F\x98\x80 \xE2\x82\xAC"));                 // emoji, euro sign
}

TEST_CASE("utf8: overlong encodings are invalid") {
  CHECK_FALSE(valid_utf8(bytes({0xC0, 0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xC0, 0xAF})));
  CHECK_FALSE(valid_utf8(bytes({0xC1, 0xBF})));
  CHECK_FALSE(valid_utf8(bytes({0xE0, 0x80, 0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xE0, 0x9F, 0xBF})));
  CHECK_FALSE(valid_utf8(bytes({0xF0, 0x80, 0x80, 0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xF0, 0x8F, 0xBF, 0xBF})));
}

TEST_CASE("utf8: UTF-16 surrogates are invalid") {
  CHECK_FALSE(valid_utf8(bytes({0xED, 0xA0, 0x80})));  // U+D800
  CHECK_FALSE(valid_utf8(bytes({0xED, 0xAD, 0xBF})));  // U+DB7F
  CHECK_FALSE(valid_utf8(bytes({0xED, 0xB0, 0x80})));  // U+DC00
  CHECK_FALSE(valid_utf8(bytes({0xED, 0xBF, 0xBF})));  // U+DFFF
  CHECK_FALSE(valid_utf8(bytes({0xED, 0xA0, 0xBD, 0xED, 0xB2, 0xA9})));  // CESU-8 pair
}

TEST_CASE("utf8: code points above U+10FFFF and bytes F5..FF are invalid") {
  CHECK_FALSE(valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  CHECK_FALSE(valid_utf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xF7, 0xBF, 0xBF, 0xBF})));
  CHECK_FALSE(valid_utf8(bytes({0xF8, 0x88, 0x80, 0x80, 0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xFE})));
  CHECK_FALSE(valid_utf8(bytes({0xFF})));
}

TEST_CASE("utf8: truncated sequences are invalid") {
  CHECK_FALSE(valid_utf8(bytes({0xC2})));
  CHECK_FALSE(valid_utf8(bytes({0xE2, 0x82})));
  CHECK_FALSE(valid_utf8(bytes({0xF0, 0x9F, 0x98})));
  CHECK_FALSE(valid_utf8(bytes({'a', 0xF0, 0x9F})));
  CHECK_FALSE(valid_utf8(bytes({0xC2, 'A'})));              // cut by an ASCII byte
  CHECK_FALSE(valid_utf8(bytes({0xE2, 0x82, 'A', 'A'})));
  CHECK_FALSE(valid_utf8(bytes({0xF0, 0x9F, 0x98, 'A'})));
}

TEST_CASE("utf8: lone continuation bytes are invalid") {
  CHECK_FALSE(valid_utf8(bytes({0x80})));
  CHECK_FALSE(valid_utf8(bytes({0xBF})));
  CHECK_FALSE(valid_utf8(bytes({'a', 0x80, 'b'})));
  CHECK_FALSE(valid_utf8(bytes({0xC2, 0x80, 0x80})));  // one continuation too many
}

TEST_CASE("utf8: a bad byte is found at every offset around the 8-byte fast path") {
  for (size_t prefix = 0; prefix < 40; ++prefix) {
    std::string s(prefix, 'x');
    s += "\xE2\x82\xAC";  // valid
    s += std::string(prefix % 9, 'y');
    CHECK(valid_utf8(s));
    std::string bad(prefix, 'x');
    bad.push_back(static_cast<char>(0xC0));
    bad += std::string(11, 'z');
    CHECK_MESSAGE(!valid_utf8(bad), "prefix ", prefix);
    std::string cut(prefix, 'x');
    cut.push_back(static_cast<char>(0xE2));
    CHECK_MESSAGE(!valid_utf8(cut), "prefix ", prefix);
  }
}

TEST_CASE("utf8: agrees with a code point decoder on every string of up to 3 bytes") {
  size_t mismatches = 0;
  unsigned char b[3];
  for (uint32_t v = 0; v < (1u << 24); ++v) {
    b[0] = static_cast<unsigned char>(v >> 16);
    b[1] = static_cast<unsigned char>(v >> 8);
    b[2] = static_cast<unsigned char>(v);
    std::string_view s(reinterpret_cast<const char*>(b), 3);
    if (valid_utf8(s) != reference_valid(b, 3)) ++mismatches;
    if (v < (1u << 16)) {
      std::string_view two(reinterpret_cast<const char*>(b + 1), 2);
      if (valid_utf8(two) != reference_valid(b + 1, 2)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("utf8: agrees with a code point decoder on every 4-byte sequence from F0..F7") {
  size_t mismatches = 0;
  unsigned char b[4];
  for (uint32_t lead = 0xF0; lead <= 0xF7; ++lead) {
    for (uint32_t rest = 0; rest < (1u << 24); rest += 7) {  // a stride keeps it quick
      b[0] = static_cast<unsigned char>(lead);
      b[1] = static_cast<unsigned char>(rest >> 16);
      b[2] = static_cast<unsigned char>(rest >> 8);
      b[3] = static_cast<unsigned char>(rest);
      std::string_view s(reinterpret_cast<const char*>(b), 4);
      if (valid_utf8(s) != reference_valid(b, 4)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}
