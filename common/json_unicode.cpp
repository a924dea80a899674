// JSON \u escapes: reading one (pairs joined, lone surrogates as U+FFFD) and the in-place repair
// of lone surrogates that lets simdjson read what JSON.parse reads.

#include "common/json_unicode.h"

#include <cstring>

#include "common/hex.h"

namespace chatd {

namespace {

bool is_high_surrogate(int v) { return v >= 0xD800 && v <= 0xDBFF; }
bool is_low_surrogate(int v) { return v >= 0xDC00 && v <= 0xDFFF; }

}  // namespace

u_escape read_u_escape(std::string_view s, size_t at) {
  u_escape e;
  if (at + 1 >= s.size() || s[at] != '\\' || s[at + 1] != 'u') return e;
  int unit = hex4(s, at + 2);
  if (unit < 0) return e;
  e.length = 6;
  if (is_high_surrogate(unit)) {
    if (at + 7 < s.size() && s[at + 6] == '\\' && s[at + 7] == 'u') {
      int low = hex4(s, at + 8);
      if (is_low_surrogate(low)) {
        e.code_point = 0x10000 + ((static_cast<uint32_t>(unit) - 0xD800) << 10) +
                       (static_cast<uint32_t>(low) - 0xDC00);
        e.length = 12;
        return e;
      }
    }
    e.lone_surrogate = true;
  } else if (is_low_surrogate(unit)) {
    e.lone_surrogate = true;
  }
  e.code_point = e.lone_surrogate ? 0xFFFD : static_cast<uint32_t>(unit);
  return e;
}

void neutralize_lone_surrogates(char* p, size_t n) {
  std::string_view s(p, n);
  size_t at = 0;
  while (at < n) {
    const void* hit = std::memchr(p + at, '\\', n - at);
    if (hit == nullptr) return;
    at = static_cast<size_t>(static_cast<const char*>(hit) - p);
    u_escape e = read_u_escape(s, at);
    if (e.length == 0) {
      at += 2;  // another escape (or a truncated one: the JSON parser will refuse it)
      continue;
    }
    if (e.lone_surrogate) std::memcpy(p + at + 2, "fffd", 4);
    at += e.length;
  }
}

}  // namespace chatd
