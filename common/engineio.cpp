// Engine.IO v4 wire pieces that are plain text: session ids (which also route a request to the
// worker that owns the session), the open packet, handshake error answers, and the base64 used
// for binary packets on long-polling.

#include "common/engineio.h"

#include <sys/random.h>

#include <array>
#include <cassert>
#include <cerrno>
#include <cstdlib>

#include "common/json_text.h"

namespace chatd::eio {

namespace {

constexpr char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// engine.io's base64id: '/' -> '_' and '+' -> '-', no padding (15 bytes need none).
constexpr char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr size_t sid_bytes = 15;

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
void encode(std::string& out, const unsigned char* p, size_t n, const char* alphabet, bool pad) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = n - i;
  if (rest == 0) return;
  uint32_t v = uint32_t{p[i]} << 16;
  if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
  out.push_back(alphabet[v >> 18]);
  out.push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
  if (pad) out.append(rest == 1 ? "==" : "=");
}

// Fills `buf` from the kernel's CSPRNG. getrandom(2) only fails here if interrupted (retried);
// anything else means the kernel cannot give randomness, and predictable ids are worse than none.
void fill_random(unsigned char* buf, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(buf, n, 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      std::abort();
    }
    buf += got;
    n -= static_cast<size_t>(got);
  }
}

}  // namespace

std::string make_sid(unsigned slot) {
  assert(slot < 256);
  unsigned char raw[sid_bytes];
  raw[0] = static_cast<unsigned char>(slot);
  fill_random(raw + 1, sid_bytes - 1);
  std::string sid;
  sid.reserve(sid_length);
  encode(sid, raw, sid_bytes, url_alphabet, false);
  return sid;
}

std::optional<unsigned> sid_slot(std::string_view sid) {
  if (sid.size() != sid_length) return std::nullopt;
  for (char c : sid) {
    if (url_values[static_cast<unsigned char>(c)] < 0) return std::nullopt;
  }
  // Byte 0 is the first character's 6 bits and the top 2 bits of the second.
  auto v0 = static_cast<unsigned>(url_values[static_cast<unsigned char>(sid[0])]);
  auto v1 = static_cast<unsigned>(url_values[static_cast<unsigned char>(sid[1])]);
  return (v0 << 2) | (v1 >> 4);
}

std::string open_packet(std::string_view sid, bool can_upgrade, uint32_t ping_interval_ms,
                        uint32_t ping_timeout_ms, uint32_t max_payload) {
  std::string out = "0{\"sid\":";
  append_json_string(out, sid);
  out += can_upgrade ? ",\"upgrades\":[\"websocket\"]" : ",\"upgrades\":[]";
  out += ",\"pingInterval\":";
  out += std::to_string(ping_interval_ms);
  out += ",\"pingTimeout\":";
  out += std::to_string(ping_timeout_ms);
  out += ",\"maxPayload\":";
  out += std::to_string(max_payload);
  out += '}';
  return out;
}

std::string_view error_message(error_code code) {
  switch (code) {
    case error_code::transport_unknown: return "Transport unknown";
    case error_code::session_id_unknown: return "Session ID unknown";
    case error_code::bad_handshake_method: return "Bad handshake method";
    case error_code::bad_request: return "Bad request";
    case error_code::forbidden: return "Forbidden";
    case error_code::unsupported_protocol_version: return "Unsupported protocol version";
  }
  return "Bad request";
}

std::string error_body(error_code code) {
  std::string out = "{\"code\":";
  out += std::to_string(static_cast<int>(code));
  out += ",\"message\":";
  append_json_string(out, error_message(code));
  out += '}';
  return out;
}

int error_http_status(error_code code) { return code == error_code::forbidden ? 403 : 400; }

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  encode(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), std_alphabet,
         true);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // Padded form only (what every Engine.IO client sends): a multiple of 4 characters, with at
  // most two '=' and only at the very end. Bits left over by the padding are not checked.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    size_t chars = last ? 4 - pad : 4;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int8_t d = 0;
      if (k < chars) {
        d = std_values[static_cast<unsigned char>(text[i + k])];
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

}  // namespace chatd::eio
