// Engine.IO text pieces: session ids and their slot, the open packet, handshake errors,
// polling payloads.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "common/base64.h"
#include "common/engineio.h"

namespace eio = chatd::eio;

namespace {

bool in_sid_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

// --- session ids -----------------------------------------------------------------------------

TEST_CASE("eio: a sid is 20 base64url characters") {
  for (unsigned slot : {0u, 1u, 63u, 64u, 200u, 255u}) {
    auto sid = eio::make_sid(slot);
    CHECK(sid.size() == eio::sid_length);
    for (char c : sid) CHECK_MESSAGE(in_sid_alphabet(c), "sid ", sid);
  }
}

TEST_CASE("eio: sid_slot gives back the slot of every sid, for slots 0..255") {
  for (unsigned slot = 0; slot < 256; ++slot) {
    auto sid = eio::make_sid(slot);
    auto back = eio::sid_slot(sid);
    REQUIRE_MESSAGE(back.has_value(), "sid ", sid);
    CHECK(*back == slot);
  }
}

TEST_CASE("eio: sids are random") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(eio::make_sid(7));
  CHECK(seen.size() == 1000);
}

TEST_CASE("eio: sid_slot decodes the first byte of a known id") {
  // 15 bytes 0xFF 0x00…: "_w" + 18 × 'A'; 0x01 0x00…: "AQ" + 18 × 'A'.
  CHECK(eio::sid_slot("_w" + std::string(18, 'A')) == 255u);
  CHECK(eio::sid_slot("AQ" + std::string(18, 'A')) == 1u);
  CHECK(eio::sid_slot(std::string(20, 'A')) == 0u);
}

TEST_CASE("eio: sid_slot rejects ids of the wrong length") {
  auto sid = eio::make_sid(3);
  CHECK_FALSE(eio::sid_slot("").has_value());
  CHECK_FALSE(eio::sid_slot(sid.substr(0, 19)).has_value());
  CHECK_FALSE(eio::sid_slot(sid + "A").has_value());
  CHECK_FALSE(eio::sid_slot(sid + sid).has_value());
}

TEST_CASE("eio: sid_slot rejects characters outside base64url") {
  for (char bad : {'+', '/', '=', ' ', '.', '%', '\0', '\x80', '\xFF'}) {
    std::string sid(20, 'A');
    sid[5] = bad;
    CHECK_FALSE(eio::sid_slot(sid).has_value());
    sid = std::string(20, 'A');
    sid[0] = bad;
    CHECK_FALSE(eio::sid_slot(sid).has_value());
  }
}

// --- open packet and errors --------------------------------------------------------------------

TEST_CASE("eio: open_packet writes the reference server's keys in its order") {
  CHECK(eio::open_packet("AbCdEfGhIjKlMnOpQrSt", true, 25000, 20000, 1000000) ==
        R"(0{"sid":"AbCdEfGhIjKlMnOpQrSt","upgrades":["websocket"],)"
        R"("pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
}

TEST_CASE("eio: open_packet offers no upgrade on a websocket session") {
  CHECK(eio::open_packet("s", false, 1, 2, 3) ==
        R"(0{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3})");
}

TEST_CASE("eio: error messages are engine.io's texts") {
  CHECK(eio::error_message(eio::error_code::transport_unknown) == "Transport unknown");
  CHECK(eio::error_message(eio::error_code::session_id_unknown) == "Session ID unknown");
  CHECK(eio::error_message(eio::error_code::bad_handshake_method) == "Bad handshake method");
  CHECK(eio::error_message(eio::error_code::bad_request) == "Bad request");
  CHECK(eio::error_message(eio::error_code::forbidden) == "Forbidden");
  CHECK(eio::error_message(eio::error_code::unsupported_protocol_version) ==
        "Unsupported protocol version");
}

TEST_CASE("eio: error_body is {code, message}") {
  CHECK(eio::error_body(eio::error_code::transport_unknown) ==
        R"({"code":0,"message":"Transport unknown"})");
  CHECK(eio::error_body(eio::error_code::session_id_unknown) ==
        R"({"code":1,"message":"Session ID unknown"})");
  CHECK(eio::error_body(eio::error_code::unsupported_protocol_version) ==
        R"({"code":5,"message":"Unsupported protocol version"})");
}

TEST_CASE("eio: only forbidden answers 403, the rest 400") {
  CHECK(eio::error_http_status(eio::error_code::forbidden) == 403);
  for (auto c : {eio::error_code::transport_unknown, eio::error_code::session_id_unknown,
                 eio::error_code::bad_handshake_method, eio::error_code::bad_request,
                 eio::error_code::unsupported_protocol_version}) {
    CHECK(eio::error_http_status(c) == 400);
  }
}

// --- polling payloads ------------------------------------------------------------------------

TEST_CASE("eio: a polling payload splits at record separators, binary packets decode") {
  std::vector<std::string> packets;
  eio::for_each_packet("4hello\x1e" "bAQIDBA==", [&](std::string_view p) { packets.emplace_back(p); });
  REQUIRE(packets.size() == 2);
  CHECK(packets[0] == "4hello");
  REQUIRE(packets[1][0] == 'b');
  auto bin = chatd::base64::decode(std::string_view(packets[1]).substr(1));
  REQUIRE(bin.has_value());
  CHECK(*bin == std::string("\x01\x02\x03\x04"));
}
