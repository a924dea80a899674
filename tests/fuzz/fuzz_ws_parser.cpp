// libFuzzer target for the WebSocket frame parser. Besides "no crash, no sanitizer report", it
// checks the parser's promises: what it delivers obeys RFC 6455 (text is UTF-8, control payloads
// fit 125 bytes, close codes are valid, messages fit max_message), and feeding the same bytes in
// arbitrary pieces gives exactly what one read gives.
//
// Input: byte 0 picks max_message, byte 1 the mode and the split seed, the rest is either raw
// wire bytes or (structured mode) frame descriptions turned into masked frames, which gets the
// fuzzer past masking and lengths quickly.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/utf8.h"
#include "common/ws_codec.h"

namespace ws = chatd::ws;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_close_code(uint16_t c) {
  return c == ws::close_code::no_status || (c >= 1000 && c <= 1003) ||
         (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

struct checking_handler : ws::frame_handler {
  size_t max_message = 0;
  int stop_at = -1;  // return false from this event on, if >= 0
  std::vector<std::string> events;

  bool record(char kind, std::string_view p) {
    events.push_back(kind + std::string(p));
    return stop_at < 0 || static_cast<int>(events.size()) <= stop_at;
  }
  bool on_message(ws::opcode op, std::string_view p) override {
    check(op == ws::opcode::text || op == ws::opcode::binary);
    check(p.size() <= max_message);
    if (op == ws::opcode::text) check(chatd::valid_utf8(p));
    return record(op == ws::opcode::text ? 't' : 'b', p);
  }
  bool on_ping(std::string_view p) override {
    check(p.size() <= 125);
    return record('i', p);
  }
  bool on_pong(std::string_view p) override {
    check(p.size() <= 125);
    return record('o', p);
  }
  bool on_close(uint16_t code, std::string_view reason) override {
    check(valid_close_code(code));
    check(reason.size() <= 123);
    check(chatd::valid_utf8(reason));
    return record('c', std::to_string(code) + ":" + std::string(reason));
  }
};

// Frame descriptions: [flags][len][payload…]; flags: low nibble the opcode, 0x80 FIN,
// 0x40 "long" (the payload is repeated to cross the 16-bit length form).
std::string build_frames(const uint8_t* p, size_t n) {
  std::string out;
  uint32_t key = 0x12345678;
  size_t i = 0;
  while (i + 2 <= n) {
    uint8_t flags = p[i];
    size_t len = p[i + 1];
    i += 2;
    len = std::min(len, n - i);
    std::string payload(reinterpret_cast<const char*>(p + i), len);
    i += len;
    if ((flags & 0x40) && !payload.empty()) {
      while (payload.size() < 70000) payload += payload;
    }
    auto op = static_cast<ws::opcode>(flags & 0x0F);
    ws::append_masked_frame(out, op, payload, key, (flags & 0x80) != 0);
    key = key * 2654435761u + 1;
  }
  return out;
}

struct outcome {
  uint16_t code;
  std::vector<std::string> events;
};

outcome run(const std::string& wire, size_t max_message, uint32_t split_seed, int stop_at) {
  ws::frame_parser parser(max_message);
  checking_handler h;
  h.max_message = max_message;
  h.stop_at = stop_at;
  uint16_t code = 0;
  size_t at = 0;
  uint32_t state = split_seed;
  std::string piece;
  while (at < wire.size()) {
    size_t n = wire.size() - at;
    if (split_seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % 64);
    }
    piece.assign(wire, at, n);  // the parser unmasks in place: give it a private copy
    code = parser.feed(std::span<char>(piece.data(), piece.size()), h);
    at += n;
    if (code != 0) {
      check(code == ws::close_code::protocol_error || code == ws::close_code::invalid_payload ||
            code == ws::close_code::message_too_big);
      // A failed parser stays failed.
      check(parser.feed(std::span<char>(piece.data(), piece.size()), h) == code);
      break;
    }
  }
  parser.shrink_if_idle();
  return {code, std::move(h.events)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t max_message = 1 + size_t{data[0]} * 300;  // 1 .. 76501: often smaller than a frame
  uint8_t mode = data[1];
  std::string wire = (mode & 1) ? build_frames(data + 2, size - 2)
                                : std::string(reinterpret_cast<const char*>(data + 2), size - 2);

  outcome whole = run(wire, max_message, 0, -1);
  outcome split = run(wire, max_message, mode | 0x100u, -1);
  check(whole.code == split.code);
  check(whole.events == split.events);

  // Stopping from a handler must leave a sane parser whatever comes after.
  if (!whole.events.empty()) {
    outcome stopped = run(wire, max_message, mode >> 1, static_cast<int>(mode % whole.events.size()));
    (void)stopped;
  }
  return 0;
}
