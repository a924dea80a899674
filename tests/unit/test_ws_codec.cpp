// The WebSocket codec: RFC 6455 vectors, every close code the parser can fail with, the same
// frames fed whole, byte by byte and in random splits, and the writers round-tripped through
// the parser.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/ws_codec.h"

namespace ws = chatd::ws;
using ws::opcode;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Records every callback as text: "text:Hello", "binary:…", "ping:…", "pong:…", "close:1000:bye".
struct recorder : ws::frame_handler {
  std::vector<std::string> events;
  int stop_at = -1;  // return false from the callback that records event number `stop_at`
  // Bounds of the buffer given to the last feed(), to tell views from copies.
  const char* span_begin = nullptr;
  const char* span_end = nullptr;
  std::vector<bool> was_view;

  bool note(std::string e, std::string_view payload) {
    events.push_back(std::move(e));
    was_view.push_back(payload.data() >= span_begin && payload.data() < span_end);
    return static_cast<int>(events.size()) - 1 != stop_at;
  }
  bool on_message(opcode op, std::string_view p) override {
    return note((op == opcode::text ? "text:" : "binary:") + std::string(p), p);
  }
  bool on_ping(std::string_view p) override { return note("ping:" + std::string(p), p); }
  bool on_pong(std::string_view p) override { return note("pong:" + std::string(p), p); }
  bool on_close(uint16_t code, std::string_view reason) override {
    return note("close:" + std::to_string(code) + ":" + std::string(reason), reason);
  }
};

// Feeds `wire` in one call (a private, mutable copy, as a read buffer would be).
uint16_t feed(ws::frame_parser& parser, recorder& rec, std::string wire) {
  rec.span_begin = wire.data();
  rec.span_end = wire.data() + wire.size();
  return parser.feed(std::span<char>(wire.data(), wire.size()), rec);
}

// Feeds `wire` in pieces whose sizes come from `next_size`; stops at the first failure.
template <class F>
uint16_t feed_in_pieces(ws::frame_parser& parser, recorder& rec, const std::string& wire,
                        F&& next_size) {
  size_t at = 0;
  uint16_t code = 0;
  while (at < wire.size() && code == 0) {
    size_t n = std::min(next_size(), wire.size() - at);
    code = feed(parser, rec, wire.substr(at, n));
    at += n;
  }
  return code;
}

uint16_t feed_bytewise(ws::frame_parser& parser, recorder& rec, const std::string& wire) {
  return feed_in_pieces(parser, rec, wire, [] { return size_t{1}; });
}

std::string masked(opcode op, std::string_view payload, bool fin = true,
                   uint32_t key = 0x37fa213d) {
  std::string out;
  ws::append_masked_frame(out, op, payload, key, fin);
  return out;
}

// A masked frame with a hand-made first byte (RSV bits, odd opcodes) and a short payload.
std::string raw_masked(uint8_t b0, std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>(b0));
  out.push_back(static_cast<char>(0x80 | payload.size()));
  out += bytes({0, 0, 0, 0});  // zero key: payload as is
  out += payload;
  return out;
}

std::string close_body(uint16_t code, std::string_view reason = {}) {
  std::string b;
  b.push_back(static_cast<char>(code >> 8));
  b.push_back(static_cast<char>(code & 0xFF));
  b += reason;
  return b;
}

// The result of one whole feed, for comparing with split feeds.
struct outcome {
  uint16_t code;
  std::vector<std::string> events;
};

outcome run_whole(const std::string& wire, size_t max_message = 1 << 20) {
  ws::frame_parser parser(max_message);
  recorder rec;
  uint16_t code = feed(parser, rec, wire);
  return {code, rec.events};
}

// A stream with one of each thing a client sends, including a 70000-byte message (64-bit
// length), fragments interleaved with control frames, and UTF-8 split across fragments.
std::string mixed_stream() {
  std::string w;
  w += masked(opcode::text, "Hello");
  w += masked(opcode::binary, std::string(300, '\x01'), true, 0x01020304);
  w += masked(opcode::text, "frag-\xE2\x82", false, 0xdeadbeef);
  w += masked(opcode::ping, "p1");
  w += masked(opcode::continuation, "\xAC-", false, 0x11111111);
  w += masked(opcode::pong, "");
  w += masked(opcode::continuation, "end", true, 0x22222222);
  std::string big(70000, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  w += masked(opcode::binary, big, true, 0xcafebabe);
  w += masked(opcode::text, "", true, 0);
  w += masked(opcode::close, close_body(1000, "bye"));
  return w;
}

}  // namespace

// --- RFC 6455 vectors ------------------------------------------------------------------------

TEST_CASE("ws: accept key matches RFC 6455 section 1.3") {
  CHECK(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("ws: masked single-frame text from RFC 6455 section 5.7 is delivered") {
  auto wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  ws::frame_parser parser(1024);
  recorder rec;
  CHECK(feed(parser, rec, wire) == 0);
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0] == "text:Hello");
  CHECK(parser.buffered() == 0);
}

TEST_CASE("ws: append_masked_frame reproduces the RFC 6455 masked Hello") {
  CHECK(masked(opcode::text, "Hello", true, 0x37fa213d) ==
        bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST_CASE("ws: append_frame writes the RFC 6455 unmasked Hello") {
  std::string out;
  ws::append_frame(out, opcode::text, "Hello");
  CHECK(out == bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
}

TEST_CASE("ws: fragmented Hel + lo is joined into one message") {
  auto wire = masked(opcode::text, "Hel", false) + masked(opcode::continuation, "lo", true);
  // The RFC's own example bytes, masked: 0x01 0x83 … and 0x80 0x82 ….
  CHECK(static_cast<uint8_t>(wire[0]) == 0x01);
  auto o = run_whole(wire);
  CHECK(o.code == 0);
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0] == "text:Hello");
}

TEST_CASE("ws: the RFC's unmasked fragmented Hello is refused from a client") {
  auto wire = bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  auto o = run_whole(wire);
  CHECK(o.code == ws::close_code::protocol_error);
  CHECK(o.events.empty());
}

TEST_CASE("ws: masked ping and the RFC's masked pong are delivered with their payload") {
  auto pong = bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  auto o = run_whole(masked(opcode::ping, "Hello") + pong);
  CHECK(o.code == 0);
  CHECK(o.events == std::vector<std::string>{"ping:Hello", "pong:Hello"});
}

TEST_CASE("ws: a 256-byte binary frame uses the 16-bit length form") {
  std::string payload(256, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i);
  std::string out;
  ws::append_frame(out, opcode::binary, payload);
  CHECK(out.substr(0, 4) == bytes({0x82, 0x7E, 0x01, 0x00}));
  CHECK(out.size() == 4 + 256);
  auto wire = masked(opcode::binary, payload);
  CHECK(wire.substr(0, 4) == bytes({0x82, 0xFE, 0x01, 0x00}));
  auto o = run_whole(wire);
  CHECK(o.code == 0);
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0] == "binary:" + payload);
}

TEST_CASE("ws: a 65536-byte binary frame uses the 64-bit length form") {
  std::string payload(65536, 'z');
  std::string out;
  ws::append_frame(out, opcode::binary, payload);
  CHECK(out.substr(0, 10) == bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  auto o = run_whole(masked(opcode::binary, payload));
  CHECK(o.code == 0);
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0] == "binary:" + payload);
}

// --- writers -----------------------------------------------------------------------------------

TEST_CASE("ws: header_size and write_header switch length forms at 126 and 65536") {
  CHECK(ws::header_size(0) == 2);
  CHECK(ws::header_size(125) == 2);
  CHECK(ws::header_size(126) == 4);
  CHECK(ws::header_size(65535) == 4);
  CHECK(ws::header_size(65536) == 10);
  char h[ws::max_header_size];
  CHECK(ws::write_header(h, opcode::text, 125) == 2);
  CHECK(std::string(h, 2) == bytes({0x81, 125}));
  CHECK(ws::write_header(h, opcode::text, 126) == 4);
  CHECK(std::string(h, 4) == bytes({0x81, 126, 0x00, 126}));
  CHECK(ws::write_header(h, opcode::binary, 65535) == 4);
  CHECK(std::string(h, 4) == bytes({0x82, 126, 0xFF, 0xFF}));
  CHECK(ws::write_header(h, opcode::binary, 0x0102030405ull) == 10);
  CHECK(std::string(h, 10) == bytes({0x82, 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05}));
}

TEST_CASE("ws: write_header clears FIN for a non-final fragment") {
  char h[ws::max_header_size];
  CHECK(ws::write_header(h, opcode::text, 3, false) == 2);
  CHECK(std::string(h, 2) == bytes({0x01, 3}));
}

TEST_CASE("ws: close_frame carries the code and the reason") {
  CHECK(ws::close_frame(1000) == bytes({0x88, 0x02, 0x03, 0xE8}));
  CHECK(ws::close_frame(1001, "bye") == bytes({0x88, 0x05, 0x03, 0xE9, 'b', 'y', 'e'}));
}

TEST_CASE("ws: close_frame for no_status is a close frame without a body") {
  CHECK(ws::close_frame(ws::close_code::no_status) == bytes({0x88, 0x00}));
  CHECK(ws::close_frame(ws::close_code::no_status, "ignored") == bytes({0x88, 0x00}));
}

TEST_CASE("ws: close_frame truncates a long reason to a 125-byte payload") {
  auto f = ws::close_frame(1000, std::string(300, 'r'));
  CHECK(f.size() == 2 + 125);
  CHECK(static_cast<uint8_t>(f[1]) == 125);
}

TEST_CASE("ws: close_frame does not cut a character in two") {
  std::string reason(122, 'r');
  reason += "\xE2\x82\xAC";  // 3 bytes at 122..124: only 123 fit
  auto f = ws::close_frame(1000, reason);
  CHECK(f.size() == 2 + 2 + 122);
  // And the parser accepts what we send (after masking it as a client would).
  auto o = run_whole(masked(opcode::close, f.substr(2)));
  CHECK(o.code == 0);
}

TEST_CASE("ws: masked frames of every length form round-trip through the parser") {
  for (size_t len : {0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 100001}) {
    std::string payload(len, '\0');
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 31 + 7);
    for (opcode op : {opcode::binary, opcode::text}) {
      std::string p = payload;
      if (op == opcode::text) {
        for (auto& c : p) c = static_cast<char>('a' + static_cast<unsigned char>(c) % 26);
      }
      auto o = run_whole(masked(op, p, true, 0x9abcdef0));
      CHECK(o.code == 0);
      REQUIRE(o.events.size() == 1);
      CHECK(o.events[0] == (op == opcode::text ? "text:" : "binary:") + p);
    }
  }
}

// --- delivery ------------------------------------------------------------------------------------

TEST_CASE("ws: a frame that arrives whole is handed out as a view into the input") {
  ws::frame_parser parser(1024);
  recorder rec;
  CHECK(feed(parser, rec, masked(opcode::text, "one") + masked(opcode::ping, "two")) == 0);
  REQUIRE(rec.was_view.size() == 2);
  CHECK(rec.was_view[0]);
  CHECK(rec.was_view[1]);
}

TEST_CASE("ws: a frame cut across reads is buffered and delivered when complete") {
  ws::frame_parser parser(1024);
  recorder rec;
  auto wire = masked(opcode::text, "split me");
  CHECK(feed(parser, rec, wire.substr(0, 5)) == 0);
  CHECK(rec.events.empty());
  CHECK(parser.buffered() == 5);
  CHECK(feed(parser, rec, wire.substr(5)) == 0);
  CHECK(rec.events == std::vector<std::string>{"text:split me"});
  CHECK(parser.buffered() == 0);
}

TEST_CASE("ws: an empty read changes nothing") {
  ws::frame_parser parser(1024);
  recorder rec;
  CHECK(parser.feed({}, rec) == 0);
  auto wire = masked(opcode::text, "x");
  CHECK(feed(parser, rec, wire.substr(0, 3)) == 0);
  CHECK(parser.feed({}, rec) == 0);
  CHECK(feed(parser, rec, wire.substr(3)) == 0);
  CHECK(rec.events == std::vector<std::string>{"text:x"});
}

TEST_CASE("ws: control frames between fragments are delivered at once") {
  auto wire = masked(opcode::text, "Hel", false) + masked(opcode::ping, "a") +
              masked(opcode::pong, "b") + masked(opcode::continuation, "l", false) +
              masked(opcode::close, close_body(1000)) + masked(opcode::continuation, "o", true);
  auto o = run_whole(wire);
  CHECK(o.code == 0);
  CHECK(o.events ==
        std::vector<std::string>{"ping:a", "pong:b", "close:1000:", "text:Hello"});
}

TEST_CASE("ws: a binary message may come in many fragments, some empty") {
  auto wire = masked(opcode::binary, "", false) + masked(opcode::continuation, "ab", false) +
              masked(opcode::continuation, "", false) + masked(opcode::continuation, "c", true);
  auto o = run_whole(wire);
  CHECK(o.code == 0);
  CHECK(o.events == std::vector<std::string>{"binary:abc"});
}

TEST_CASE("ws: a character split across fragments is valid UTF-8") {
  auto wire = masked(opcode::text, "\xE2", false) + masked(opcode::continuation, "\x82", false) +
              masked(opcode::continuation, "\xAC", true);
  auto o = run_whole(wire);
  CHECK(o.code == 0);
  CHECK(o.events == std::vector<std::string>{"text:\xE2\x82\xAC"});
}

TEST_CASE("ws: a close frame without a body reports no_status") {
  auto o = run_whole(masked(opcode::close, ""));
  CHECK(o.code == 0);
  CHECK(o.events == std::vector<std::string>{"close:1005:"});
}

TEST_CASE("ws: a close frame reports its code and UTF-8 reason") {
  auto o = run_whole(masked(opcode::close, close_body(4000, "caf\xC3\xA9")));
  CHECK(o.code == 0);
  CHECK(o.events == std::vector<std::string>{"close:4000:caf\xC3\xA9"});
}

TEST_CASE("ws: every valid close code is accepted") {
  std::vector<uint16_t> codes = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                 1010, 1011, 1012, 1013, 1014, 3000, 4999};
  for (uint16_t code : codes) {
    auto o = run_whole(masked(opcode::close, close_body(code)));
    CHECK_MESSAGE(o.code == 0, "code ", code);
    CHECK(o.events.size() == 1);
  }
}

TEST_CASE("ws: a message of exactly max_message bytes is accepted") {
  auto o = run_whole(masked(opcode::binary, std::string(100, 'm')), 100);
  CHECK(o.code == 0);
  auto f = run_whole(masked(opcode::text, std::string(60, 'm'), false) +
                         masked(opcode::continuation, std::string(40, 'n'), true),
                     100);
  CHECK(f.code == 0);
  CHECK(f.events.size() == 1);
}

TEST_CASE("ws: byte-by-byte feeding gives the same events as one read") {
  auto wire = mixed_stream();
  auto whole = run_whole(wire);
  CHECK(whole.code == 0);
  CHECK(whole.events.size() == 8);
  ws::frame_parser parser(1 << 20);
  recorder rec;
  CHECK(feed_bytewise(parser, rec, wire) == 0);
  CHECK(rec.events == whole.events);
  CHECK(parser.buffered() == 0);
}

TEST_CASE("ws: random splits give the same events as one read") {
  auto wire = mixed_stream();
  auto whole = run_whole(wire);
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    size_t max_piece = seed % 2 ? 20 : 5000;
    std::uniform_int_distribution<size_t> size(1, max_piece);
    ws::frame_parser parser(1 << 20);
    recorder rec;
    CHECK(feed_in_pieces(parser, rec, wire, [&] { return size(rng); }) == 0);
    CHECK_MESSAGE(rec.events == whole.events, "seed ", seed);
  }
}

TEST_CASE("ws: a handler returning false stops parsing and the call returns 0") {
  ws::frame_parser parser(1024);
  recorder rec;
  rec.stop_at = 0;
  auto wire = masked(opcode::text, "first") + masked(opcode::text, "second");
  CHECK(feed(parser, rec, wire) == 0);
  CHECK(rec.events == std::vector<std::string>{"text:first"});
}

TEST_CASE("ws: a handler can stop from a control frame and from a buffered frame") {
  {
    ws::frame_parser parser(1024);
    recorder rec;
    rec.stop_at = 0;
    CHECK(feed(parser, rec, masked(opcode::ping, "p") + masked(opcode::text, "t")) == 0);
    CHECK(rec.events == std::vector<std::string>{"ping:p"});
  }
  {
    ws::frame_parser parser(1024);
    recorder rec;
    rec.stop_at = 0;
    auto wire = masked(opcode::text, "cut") + masked(opcode::text, "next");
    CHECK(feed(parser, rec, wire.substr(0, 4)) == 0);
    CHECK(feed(parser, rec, wire.substr(4)) == 0);
    CHECK(rec.events == std::vector<std::string>{"text:cut"});
    CHECK(parser.buffered() == 0);
  }
}

TEST_CASE("ws: shrink_if_idle keeps a pending frame and the parser goes on") {
  ws::frame_parser parser(1 << 20);
  recorder rec;
  auto wire = masked(opcode::binary, std::string(5000, 'q'));
  CHECK(feed(parser, rec, wire.substr(0, 100)) == 0);
  parser.shrink_if_idle();
  CHECK(parser.buffered() == 100);
  CHECK(feed(parser, rec, wire.substr(100)) == 0);
  CHECK(rec.events.size() == 1);
  parser.shrink_if_idle();
  CHECK(parser.buffered() == 0);
  CHECK(feed(parser, rec, masked(opcode::text, "after")) == 0);
  CHECK(rec.events.back() == "text:after");
}

// --- failures ------------------------------------------------------------------------------------

TEST_CASE("ws: an unmasked client frame fails with 1002") {
  auto o = run_whole(bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}));
  CHECK(o.code == ws::close_code::protocol_error);
  CHECK(o.events.empty());
}

TEST_CASE("ws: any RSV bit fails with 1002") {
  for (uint8_t rsv : {0x40, 0x20, 0x10}) {
    auto o = run_whole(raw_masked(static_cast<uint8_t>(0x81 | rsv), "x"));
    CHECK_MESSAGE(o.code == ws::close_code::protocol_error, "rsv ", int(rsv));
  }
}

TEST_CASE("ws: reserved opcodes fail with 1002") {
  for (uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    auto o = run_whole(raw_masked(static_cast<uint8_t>(0x80 | op), "x"));
    CHECK_MESSAGE(o.code == ws::close_code::protocol_error, "opcode ", int(op));
  }
}

TEST_CASE("ws: a fragmented control frame fails with 1002") {
  for (opcode op : {opcode::ping, opcode::pong, opcode::close}) {
    auto o = run_whole(masked(op, "", false));
    CHECK(o.code == ws::close_code::protocol_error);
  }
}

TEST_CASE("ws: a control frame over 125 bytes fails with 1002") {
  CHECK(run_whole(masked(opcode::ping, std::string(125, 'p'))).code == 0);
  for (opcode op : {opcode::ping, opcode::pong, opcode::close}) {
    auto o = run_whole(masked(op, std::string(126, 'p')));
    CHECK(o.code == ws::close_code::protocol_error);
  }
}

TEST_CASE("ws: a continuation with no message started fails with 1002") {
  auto o = run_whole(masked(opcode::continuation, "lo"));
  CHECK(o.code == ws::close_code::protocol_error);
}

TEST_CASE("ws: a new data frame inside an unfinished message fails with 1002") {
  for (opcode op : {opcode::text, opcode::binary}) {
    auto o = run_whole(masked(opcode::text, "Hel", false) + masked(op, "lo"));
    CHECK(o.code == ws::close_code::protocol_error);
    CHECK(o.events.empty());
  }
}

TEST_CASE("ws: a 64-bit length with the top bit set fails with 1002") {
  auto wire = bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 1, 2, 3, 4});
  auto o = run_whole(wire);
  CHECK(o.code == ws::close_code::protocol_error);
}

TEST_CASE("ws: invalid UTF-8 in a text frame fails with 1007") {
  auto o = run_whole(masked(opcode::text, "bad \xC0\xAF here"));
  CHECK(o.code == ws::close_code::invalid_payload);
  CHECK(o.events.empty());
}

TEST_CASE("ws: invalid UTF-8 in a fragmented text message fails with 1007") {
  // Each fragment could be the start or end of a character; the joined message is not UTF-8.
  auto wire = masked(opcode::text, "ok \xE2\x82", false) + masked(opcode::continuation, "A", true);
  auto o = run_whole(wire);
  CHECK(o.code == ws::close_code::invalid_payload);
  // Truncated at the end of the message.
  auto cut = masked(opcode::text, "ok", false) + masked(opcode::continuation, "\xF0\x9F", true);
  CHECK(run_whole(cut).code == ws::close_code::invalid_payload);
}

TEST_CASE("ws: invalid UTF-8 in a binary message is delivered") {
  auto o = run_whole(masked(opcode::binary, "\xC0\xAF"));
  CHECK(o.code == 0);
  CHECK(o.events.size() == 1);
}

TEST_CASE("ws: a close frame with a 1-byte body fails with 1002") {
  auto o = run_whole(masked(opcode::close, "\x03"));
  CHECK(o.code == ws::close_code::protocol_error);
  CHECK(o.events.empty());
}

TEST_CASE("ws: a close frame with an invalid code fails with 1002") {
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    auto o = run_whole(masked(opcode::close, close_body(code)));
    CHECK_MESSAGE(o.code == ws::close_code::protocol_error, "code ", code);
    CHECK(o.events.empty());
  }
}

TEST_CASE("ws: a close reason that is not UTF-8 fails with 1007") {
  auto o = run_whole(masked(opcode::close, close_body(1000, "\xFF")));
  CHECK(o.code == ws::close_code::invalid_payload);
  CHECK(o.events.empty());
}

TEST_CASE("ws: a frame over max_message fails with 1009 from its header alone") {
  ws::frame_parser parser(1000);
  recorder rec;
  auto wire = masked(opcode::binary, std::string(1001, 'b'));
  CHECK(feed(parser, rec, wire.substr(0, 8)) == ws::close_code::message_too_big);
  CHECK(parser.buffered() == 0);
}

TEST_CASE("ws: fragments adding up to more than max_message fail with 1009") {
  ws::frame_parser parser(1000);
  recorder rec;
  CHECK(feed(parser, rec, masked(opcode::text, std::string(600, 'a'), false)) == 0);
  auto second = masked(opcode::continuation, std::string(401, 'b'), true);
  CHECK(feed(parser, rec, second.substr(0, 4)) == ws::close_code::message_too_big);
  CHECK(rec.events.empty());
}

TEST_CASE("ws: a huge announced length fails with 1009 without buffering") {
  // 2^62 bytes: the top bit is clear, so this is "too big", not "malformed".
  auto wire = bytes({0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});
  ws::frame_parser parser(1 << 20);
  recorder rec;
  CHECK(feed(parser, rec, wire) == ws::close_code::message_too_big);
  CHECK(parser.buffered() == 0);
}

TEST_CASE("ws: frames before a bad one are delivered, the rest is not") {
  auto wire = masked(opcode::text, "good") + raw_masked(0xC1, "x") + masked(opcode::text, "never");
  auto o = run_whole(wire);
  CHECK(o.code == ws::close_code::protocol_error);
  CHECK(o.events == std::vector<std::string>{"text:good"});
}

TEST_CASE("ws: once failed, the parser keeps returning the same code") {
  ws::frame_parser parser(1024);
  recorder rec;
  CHECK(feed(parser, rec, masked(opcode::text, "\xFF")) == ws::close_code::invalid_payload);
  CHECK(feed(parser, rec, masked(opcode::text, "fine")) == ws::close_code::invalid_payload);
  CHECK(parser.feed({}, rec) == ws::close_code::invalid_payload);
  CHECK(rec.events.empty());
}

TEST_CASE("ws: every failure gives the same code and events when fed byte by byte") {
  std::vector<std::string> bad = {
      bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}),
      raw_masked(0xC1, "x"),
      raw_masked(0x83, "x"),
      masked(opcode::ping, "", false),
      masked(opcode::ping, std::string(126, 'p')),
      masked(opcode::continuation, "x"),
      masked(opcode::text, "a", false) + masked(opcode::text, "b"),
      bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 1, 2, 3, 4}),
      masked(opcode::text, "ok") + masked(opcode::text, "\xED\xA0\x80"),
      masked(opcode::text, "\xE2", false) + masked(opcode::ping, "p") +
          masked(opcode::continuation, "(", true),
      masked(opcode::close, "\x03"),
      masked(opcode::close, close_body(1006)),
      masked(opcode::close, close_body(1000, "\xC0")),
      masked(opcode::binary, std::string(2000, 'b')),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    auto whole = run_whole(bad[i], 1000);
    CHECK_MESSAGE(whole.code != 0, "case ", i);
    ws::frame_parser parser(1000);
    recorder rec;
    CHECK_MESSAGE(feed_bytewise(parser, rec, bad[i]) == whole.code, "case ", i);
    CHECK_MESSAGE(rec.events == whole.events, "case ", i);
  }
}
