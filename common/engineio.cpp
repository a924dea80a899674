// Engine.IO v4 wire pieces that are plain text: session ids (which also route a request to the
// worker that owns the session), the open packet and handshake error answers. Base64 (binary
// packets on long-polling, the sid alphabet) is common/base64.

#include "common/engineio.h"

#include <sys/random.h>

#include <array>
#include <cassert>
#include <cerrno>
#include <cstdlib>

#include "common/base64.h"
#include "common/json_text.h"

namespace chatd::eio {

namespace {

constexpr size_t sid_bytes = 15;

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
  return base64::encode_url(std::string_view(reinterpret_cast<const char*>(raw), sid_bytes));
}

std::optional<unsigned> sid_slot(std::string_view sid) {
  if (sid.size() != sid_length) return std::nullopt;
  for (char c : sid) {
    if (base64::url_value(c) < 0) return std::nullopt;
  }
  // Byte 0 is the first character's 6 bits and the top 2 bits of the second.
  auto v0 = static_cast<unsigned>(base64::url_value(sid[0]));
  auto v1 = static_cast<unsigned>(base64::url_value(sid[1]));
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

}  // namespace chatd::eio
