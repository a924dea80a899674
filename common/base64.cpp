// Base64 encoding and decoding (RFC 4648 sections 4 and 5), table-driven. Engine.IO packets go
// through here on every long-polling binary message, so encoding reserves once and decoding
// rejects at the first bad character.

#include "common/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace chatd::base64 {

namespace {

constexpr char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// engine.io's base64id: '/' -> '_' and '+' -> '-'.
constexpr char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Maps a character to its 6-bit value in `alphabet`, -1 if it is not in it.
constexpr std::array<int8_t, 256> reverse(const char* alphabet) {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto std_values = reverse(std_alphabet);
constexpr auto url_values = reverse(url_alphabet);

// Encodes whole 3-byte groups and, with `pad`, the tail with '=' padding.
std::string encode_with(std::string_view bytes, const char* alphabet, bool pad) {
  auto p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = n - i;
  if (rest == 0) return out;
  uint32_t v = uint32_t{p[i]} << 16;
  if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
  out.push_back(alphabet[v >> 18]);
  out.push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
  if (pad) out.append(rest == 1 ? "==" : "=");
  return out;
}

}  // namespace

std::string encode(std::string_view bytes) { return encode_with(bytes, std_alphabet, true); }

std::string encode_url(std::string_view bytes) { return encode_with(bytes, url_alphabet, false); }

int url_value(char c) { return url_values[static_cast<unsigned char>(c)]; }

namespace {

// Decodes `text` (no padding left in it) with the value table of one alphabet; nullopt at the
// first character outside it, or for a length no encoder produces (4n + 1).
std::optional<std::string> decode_with(std::string_view text, const std::array<int8_t, 256>& values) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  for (size_t i = 0; i < text.size(); i += 4) {
    size_t chars = std::min<size_t>(4, text.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int8_t d = 0;
      if (k < chars) {
        d = values[static_cast<unsigned char>(text[i + k])];
        if (d < 0) return std::nullopt;
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (chars > 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (chars > 3) out.push_back(static_cast<char>(v & 0xFF));
  }
  return out;
}

}  // namespace

std::optional<std::string> decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  return decode_with(text.substr(0, text.size() - pad), std_values);
}

std::optional<std::string> decode_url(std::string_view text) { return decode_with(text, url_values); }

}  // namespace chatd::base64
