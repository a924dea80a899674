// Polling payloads cut out of shared WebSocket frames (worker/poll_payload.h).

#include "worker/poll_payload.h"

#include "common/base64.h"
#include "common/engineio.h"
#include "common/ws_codec.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace chatd {
namespace {

shared_bytes binary_frame(std::string_view bytes) {
  std::string f;
  ws::append_frame(f, ws::opcode::binary, bytes);
  return make_bytes(std::move(f));
}

std::string payload_of(const std::vector<shared_bytes>& frames) {
  std::string out;
  append_poll_payload(out, frames);
  return out;
}

}  // namespace

TEST_CASE("poll payload: one text frame is its packet as is") {
  CHECK(payload_of({make_text_frame({"4", "2[\"chat\",1]"})}) == "42[\"chat\",1]");
}

TEST_CASE("poll payload: several packets are joined by the record separator") {
  CHECK(payload_of({make_text_frame({"2"}), make_text_frame({"42[\"a\"]"}), make_text_frame({"6"})}) ==
        "2\x1e" "42[\"a\"]\x1e" "6");
}

TEST_CASE("poll payload: a binary frame becomes b + base64") {
  std::string bytes("\x01\x02\x03\x04", 4);
  CHECK(payload_of({make_text_frame({"451-[\"chat\",{\"_placeholder\":true,\"num\":0}]"}),
                    binary_frame(bytes)}) ==
        "451-[\"chat\",{\"_placeholder\":true,\"num\":0}]\x1e" "bAQIDBA==");
}

TEST_CASE("poll payload: an empty list is an empty payload") { CHECK(payload_of({}).empty()); }

TEST_CASE("poll payload: 16-bit and 64-bit frame lengths are cut at the right place") {
  std::string mid(300, 'm');
  std::string big(70000, 'b');
  CHECK(payload_of({make_text_frame({mid})}) == mid);
  CHECK(payload_of({make_text_frame({big})}) == big);
}

TEST_CASE("poll payload: a payload decodes back into the packets it was made of") {
  std::string bin("\x00\xff\x10", 3);
  std::string text = payload_of({make_text_frame({"42[\"x\"]"}), binary_frame(bin), make_text_frame({"3"})});
  std::vector<std::string> got;
  eio::for_each_packet(text, [&](std::string_view p) { got.emplace_back(p); });
  REQUIRE(got.size() == 3);
  CHECK(got[0] == "42[\"x\"]");
  CHECK(got[1][0] == 'b');
  CHECK(chatd::base64::decode(std::string_view(got[1]).substr(1)) == bin);
  CHECK(got[2] == "3");
}

TEST_CASE("view_frame: a truncated frame is refused") {
  std::string f = *make_text_frame({"hello"});
  CHECK_FALSE(view_frame(std::string_view(f).substr(0, f.size() - 1)));
  CHECK_FALSE(view_frame(std::string_view(f).substr(0, 1)));
  CHECK_FALSE(view_frame(""));
}

TEST_CASE("view_frame: a truncated extended length is refused") {
  std::string f = *make_text_frame({std::string(300, 'x')});
  CHECK_FALSE(view_frame(std::string_view(f).substr(0, 3)));
  std::string g = *make_text_frame({std::string(70000, 'x')});
  CHECK_FALSE(view_frame(std::string_view(g).substr(0, 9)));
}

TEST_CASE("view_frame: masked and control frames are refused, and skipped in payloads") {
  std::string masked;
  ws::append_masked_frame(masked, ws::opcode::text, "4x", 0x01020304);
  CHECK_FALSE(view_frame(masked));
  std::string close = ws::close_frame(1000, "");
  CHECK_FALSE(view_frame(close));
  CHECK(payload_of({make_bytes(close), make_text_frame({"6"})}) == "6");
}

}  // namespace chatd
