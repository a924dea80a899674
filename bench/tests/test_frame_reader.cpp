// bench/chatd_bench/frame_reader: server-to-client WebSocket frames as a client must read them.

#include "bench/chatd_bench/frame_reader.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using chatd::bench::frame_reader;
namespace ws = chatd::ws;

namespace {

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

TEST_CASE("a whole text frame is one message") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::text, "40{\"sid\":\"abc\"}"), h) == 0);
  REQUIRE(h.texts.size() == 1);
  CHECK(h.texts[0] == "40{\"sid\":\"abc\"}");
  CHECK(r.buffered() == 0);
}

TEST_CASE("several frames in one read are all delivered in order") {
  frame_reader r(1 << 20);
  recorder h;
  std::string in;
  ws::append_frame(in, ws::opcode::text, "2");
  ws::append_frame(in, ws::opcode::text, "42[\"chat\",{}]");
  ws::append_frame(in, ws::opcode::binary, std::string("\x00\x01", 2));
  CHECK(r.feed(in, h) == 0);
  CHECK(h.texts == std::vector<std::string>{"2", "42[\"chat\",{}]"});
  REQUIRE(h.binaries.size() == 1);
  CHECK(h.binaries[0].size() == 2);
}

TEST_CASE("a frame split at every byte boundary is delivered once complete") {
  const std::string payload(300, 'p');  // 16-bit length form
  const std::string in = frame(ws::opcode::text, payload);
  for (size_t cut = 1; cut < in.size(); ++cut) {
    frame_reader r(1 << 20);
    recorder h;
    CHECK(r.feed(std::string_view(in).substr(0, cut), h) == 0);
    CHECK(h.texts.empty());
    CHECK(r.buffered() == cut);
    CHECK(r.feed(std::string_view(in).substr(cut), h) == 0);
    REQUIRE(h.texts.size() == 1);
    CHECK(h.texts[0] == payload);
  }
}

TEST_CASE("a frame fed one byte at a time is delivered once complete") {
  const std::string payload(70000, 'q');  // 64-bit length form
  const std::string in = frame(ws::opcode::text, payload);
  frame_reader r(1 << 20);
  recorder h;
  for (char c : in) CHECK(r.feed(std::string_view(&c, 1), h) == 0);
  REQUIRE(h.texts.size() == 1);
  CHECK(h.texts[0].size() == payload.size());
}

TEST_CASE("fragments are joined, with a ping between them delivered at once") {
  frame_reader r(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "42[\"ch", false) + frame(ws::opcode::ping, "hb") +
                   frame(ws::opcode::continuation, "at\",", false) +
                   frame(ws::opcode::continuation, "1]");
  CHECK(r.feed(in, h) == 0);
  CHECK(h.pings == std::vector<std::string>{"hb"});
  CHECK(h.texts == std::vector<std::string>{"42[\"chat\",1]"});
}

TEST_CASE("a close frame reports its code and reason") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(ws::close_frame(1001, "bye"), h) == 0);
  REQUIRE(h.closes.size() == 1);
  CHECK(h.closes[0].first == 1001);
  CHECK(h.closes[0].second == "bye");
}

TEST_CASE("a close frame without a body reports no status") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::close, ""), h) == 0);
  REQUIRE(h.closes.size() == 1);
  CHECK(h.closes[0].first == ws::close_code::no_status);
}

TEST_CASE("a close frame with a one-byte body is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::close, "x"), h) == ws::close_code::protocol_error);
}

TEST_CASE("a masked frame from the server is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  std::string in;
  ws::append_masked_frame(in, ws::opcode::text, "hi", 0x01020304);
  CHECK(r.feed(in, h) == ws::close_code::protocol_error);
  CHECK(h.texts.empty());
}

TEST_CASE("reserved bits set are a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "hi");
  in[0] = static_cast<char>(in[0] | 0x40);
  CHECK(r.feed(in, h) == ws::close_code::protocol_error);
}

TEST_CASE("an unknown opcode is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  const char in[] = {static_cast<char>(0x83), 0x00};
  CHECK(r.feed(std::string_view(in, 2), h) == ws::close_code::protocol_error);
}

TEST_CASE("a control frame longer than 125 bytes is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::ping, std::string(126, 'x')), h) == ws::close_code::protocol_error);
}

TEST_CASE("a fragmented control frame is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::ping, "x", false), h) == ws::close_code::protocol_error);
}

TEST_CASE("a continuation without a message in progress is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::continuation, "x"), h) == ws::close_code::protocol_error);
}

TEST_CASE("a new message inside an unfinished one is a protocol error") {
  frame_reader r(1 << 20);
  recorder h;
  std::string in = frame(ws::opcode::text, "a", false) + frame(ws::opcode::text, "b");
  CHECK(r.feed(in, h) == ws::close_code::protocol_error);
}

TEST_CASE("a 64-bit length with the top bit set is a protocol error") {
  frame_reader r(UINT64_MAX);
  recorder h;
  const char in[] = {static_cast<char>(0x81), 127, static_cast<char>(0x80), 0, 0, 0, 0, 0, 0, 1};
  CHECK(r.feed(std::string_view(in, sizeof in), h) == ws::close_code::protocol_error);
}

TEST_CASE("a frame larger than the limit is too big, known from its header alone") {
  frame_reader r(100);
  recorder h;
  std::string in = frame(ws::opcode::text, std::string(101, 'x'));
  CHECK(r.feed(std::string_view(in).substr(0, 4), h) == ws::close_code::message_too_big);
}

TEST_CASE("fragments adding up past the limit are too big") {
  frame_reader r(100);
  recorder h;
  std::string in = frame(ws::opcode::text, std::string(60, 'x'), false) +
                   frame(ws::opcode::continuation, std::string(60, 'x'));
  CHECK(r.feed(in, h) == ws::close_code::message_too_big);
  CHECK(h.texts.empty());
}

TEST_CASE("after a failure every later feed returns the same code") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed(frame(ws::opcode::continuation, "x"), h) == ws::close_code::protocol_error);
  CHECK(r.feed(frame(ws::opcode::text, "fine"), h) == ws::close_code::protocol_error);
  CHECK(h.texts.empty());
}

TEST_CASE("a handler returning false stops parsing the rest of the input") {
  frame_reader r(1 << 20);
  recorder h;
  h.keep_going = false;
  std::string in = frame(ws::opcode::text, "one") + frame(ws::opcode::text, "two");
  CHECK(r.feed(in, h) == 0);
  CHECK(h.texts == std::vector<std::string>{"one"});
}

TEST_CASE("an empty feed changes nothing") {
  frame_reader r(1 << 20);
  recorder h;
  CHECK(r.feed({}, h) == 0);
  CHECK(r.buffered() == 0);
  CHECK(h.texts.empty());
}
