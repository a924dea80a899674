#pragma once
// Engine.IO v4 wire format: packet types, the open packet, session ids, handshake errors and
// long-polling payloads. Sans-IO.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatd::eio {

enum class packet_type : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

// A session id is base64url of 15 bytes = 20 characters: the first byte names the worker slot
// that owns the session, the other 14 come from getrandom(2), so ids are unguessable.
inline constexpr size_t sid_length = 20;
std::string make_sid(unsigned slot);
// The owning slot, or nullopt if `sid` is not of our form.
std::optional<unsigned> sid_slot(std::string_view sid);

// `0{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`, keys in the order
// the reference server writes them. `upgrades` is ["websocket"] when can_upgrade, else [].
std::string open_packet(std::string_view sid, bool can_upgrade, uint32_t ping_interval_ms,
                        uint32_t ping_timeout_ms, uint32_t max_payload);

// Handshake/request errors (engine.io Server.errors).
enum class error_code : int {
  transport_unknown = 0,
  session_id_unknown = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};
std::string_view error_message(error_code code);
// {"code":N,"message":"…"} (the body of the HTTP 400/403 answer).
std::string error_body(error_code code);
// 403 for forbidden, 400 otherwise.
int error_http_status(error_code code);

// Long-polling payloads: packets joined by '\x1e'; a binary packet is 'b' + base64 (common/base64).
inline constexpr char record_separator = '\x1e';
// Calls f(std::string_view packet) for each packet of a payload, in order.
template <class F>
void for_each_packet(std::string_view payload, F&& f) {
  size_t start = 0;
  while (start <= payload.size()) {
    size_t end = payload.find(record_separator, start);
    if (end == std::string_view::npos) end = payload.size();
    f(payload.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace chatd::eio
