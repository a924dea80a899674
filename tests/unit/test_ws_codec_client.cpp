// The WebSocket parser in the client role (chatd-bench's clients): server-to-client frames,
// unmasked, as a client must read them. The server role is tested in test_ws_codec.cpp.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/ws_codec.h"

namespace ws = chatd::ws;

namespace {

ws::frame_parser client_parser(size_t max_message) {
  return ws::frame_parser(max_message, ws::role::client);
}

// Feeds a private, mutable copy of `wire` (the parser takes a read buffer it may write to).
uint16_t feed(ws::frame_parser& parser, ws::frame_handler& h, std::string_view wire) {
  std::string copy(wire);
  return parser.feed(std::span<char>(copy.data(), copy.size()), h);
}

struct recorder : ws::frame_handler {
  std::vector<std::string> texts, binaries, pings, pongs;
  std::vector<std::pair<uint16_t, std::string>> closes;
  bool keep_going = true;
  bool on_message(ws::opcode op, std::string_view p) override {
    (op == ws::opcode::text ? texts : binaries).emplace_back(p);
    return keep_going;
  }
  bool on_ping(std::string_view p) override {
    pings.emplace_back(p);
    return true;
  }
  bool on_pong(std::string_view p) override {
    pongs.emplace_back(p);
    return true;
  }
  bool on_close(uint16_t code, std::string_view reason) override {
    closes.emplace_back(code, std::string(reason));
    return true;
  }
};

std::string frame(ws::opcode op, std::string_view payload, bool fin = true) {
  std::string out;
  char head[ws::max_header_size];
  out.append(head, ws::write_header(head, op, payload.size(), fin));
  out.append(payload);
  return out;
}

}  // namespace

TEST_CASE("ws client: a whole text frame is one message") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::text, "40{\"sid\":\"abc\"}")) == 0);
  REQUIRE(h.texts.size() == 1);
  CHECK(h.texts[0] == "40{\"sid\":\"abc\"}");
  CHECK(r.buffered() == 0);
}

TEST_CASE("ws client: several frames in one read are all delivered in order") {
  auto r = client_parser(1 << 20);
  recorder h;
  std::string in;
  ws::append_frame(in, ws::opcode::text, "2");
  ws::append_frame(in, ws::opcode::text, "42[\"chat\",{}]");
  ws::append_frame(in, ws::opcode::binary, std::string("\x00\x01", 2));
  CHECK(feed(r, h, in) == 0);
  CHECK(h.texts == std::vector<std::string>{"2", "42[\"chat\",{}]"});
  REQUIRE(h.binaries.size() == 1);
  CHECK(h.binaries[0].size() == 2);
}

TEST_CASE("ws client: a frame split at every byte boundary is delivered once complete") {
  const std::string payload(300, 'p');  // 16-bit length form
  const std::string in = frame(ws::opcode::text, payload);
  for (size_t cut = 1; cut < in.size(); ++cut) {
    auto r = client_parser(1 << 20);
    recorder h;
    CHECK(feed(r, h, std::string_view(in).substr(0, cut)) == 0);
    CHECK(h.texts.empty());
    CHECK(r.buffered() == cut);
    CHECK(feed(r, h, std::string_view(in).substr(cut)) == 0);
    REQUIRE(h.texts.size() == 1);
    CHECK(h.texts[0] == payload);
  }
}

TEST_CASE("ws client: a frame fed one byte at a time is delivered once complete") {
  const std::string payload(70000, 'q');  // 64-bit length form
  const std::string in = frame(ws::opcode::text, payload);
  auto r = client_parser(1 << 20);
  recorder h;
  for (char c : in) CHECK(feed(r, h, std::string_view(&c, 1)) == 0);
  REQUIRE(h.texts.size() == 1);
  CHECK(h.texts[0].size() == payload.size());
}

TEST_CASE("ws client: fragments are joined, with a ping between them delivered at once") {
  auto r = client_parser(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "42[\"ch", false) + frame(ws::opcode::ping, "hb") +
                   frame(ws::opcode::continuation, "at\",", false) +
                   frame(ws::opcode::continuation, "1]");
  CHECK(feed(r, h, in) == 0);
  CHECK(h.pings == std::vector<std::string>{"hb"});
  CHECK(h.texts == std::vector<std::string>{"42[\"chat\",1]"});
}

TEST_CASE("ws client: a close frame reports its code and reason") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, ws::close_frame(1001, "bye")) == 0);
  REQUIRE(h.closes.size() == 1);
  CHECK(h.closes[0].first == 1001);
  CHECK(h.closes[0].second == "bye");
}

TEST_CASE("ws client: a close frame without a body reports no status") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::close, "")) == 0);
  REQUIRE(h.closes.size() == 1);
  CHECK(h.closes[0].first == ws::close_code::no_status);
}

TEST_CASE("ws client: a close frame with a one-byte body is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::close, "x")) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a masked frame from the server is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  std::string in;
  ws::append_masked_frame(in, ws::opcode::text, "hi", 0x01020304);
  CHECK(feed(r, h, in) == ws::close_code::protocol_error);
  CHECK(h.texts.empty());
}

TEST_CASE("ws client: reserved bits set are a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "hi");
  in[0] = static_cast<char>(in[0] | 0x40);
  CHECK(feed(r, h, in) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: an unknown opcode is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  const char in[] = {static_cast<char>(0x83), 0x00};
  CHECK(feed(r, h, std::string_view(in, 2)) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a control frame longer than 125 bytes is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::ping, std::string(126, 'x'))) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a fragmented control frame is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::ping, "x", false)) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a continuation without a message in progress is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::continuation, "x")) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a new message inside an unfinished one is a protocol error") {
  auto r = client_parser(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "a", false) + frame(ws::opcode::text, "b");
  CHECK(feed(r, h, in) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a 64-bit length with the top bit set is a protocol error") {
  auto r = client_parser(UINT64_MAX);
  recorder h;
  const char in[] = {static_cast<char>(0x81), 127, static_cast<char>(0x80), 0, 0, 0, 0, 0, 0, 1};
  CHECK(feed(r, h, std::string_view(in, sizeof in)) == ws::close_code::protocol_error);
}

TEST_CASE("ws client: a frame larger than the limit is too big, known from its header alone") {
  auto r = client_parser(100);
  recorder h;
  std::string in = frame(ws::opcode::text, std::string(101, 'x'));
  CHECK(feed(r, h, std::string_view(in).substr(0, 4)) == ws::close_code::message_too_big);
}

TEST_CASE("ws client: fragments adding up past the limit are too big") {
  auto r = client_parser(100);
  recorder h;
  std::string in = frame(ws::opcode::text, std::string(60, 'x'), false) +
                   frame(ws::opcode::continuation, std::string(60, 'x'));
  CHECK(feed(r, h, in) == ws::close_code::message_too_big);
  CHECK(h.texts.empty());
}

TEST_CASE("ws client: after a failure every later feed returns the same code") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::continuation, "x")) == ws::close_code::protocol_error);
  CHECK(feed(r, h, frame(ws::opcode::text, "fine")) == ws::close_code::protocol_error);
  CHECK(h.texts.empty());
}

TEST_CASE("ws client: a handler returning false stops parsing the rest of the input") {
  auto r = client_parser(1 << 20);
  recorder h;
  h.keep_going = false;
  std::string in = frame(ws::opcode::text, "one") + frame(ws::opcode::text, "two");
  CHECK(feed(r, h, in) == 0);
  CHECK(h.texts == std::vector<std::string>{"one"});
}

TEST_CASE("ws client: an empty feed changes nothing") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, {}) == 0);
  CHECK(r.buffered() == 0);
  CHECK(h.texts.empty());
}

TEST_CASE("ws client: invalid UTF-8 in a text frame from the server fails with 1007") {
  auto r = client_parser(1 << 20);
  recorder h;
  CHECK(feed(r, h, frame(ws::opcode::text, "\xC3\x28")) == ws::close_code::invalid_payload);
  CHECK(h.texts.empty());
}
