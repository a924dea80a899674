// libFuzzer target for Engine.IO packets and long-polling payloads: a POST body split by
// eio::for_each_packet (common/engineio.h), each packet read as session::on_poll_data and
// session::on_text read it ('b' + base64 is a binary packet, else the first byte is the type,
// '4' carries Socket.IO), and the server's way back, worker/poll_payload.h (view_frame,
// append_poll_payload: sans-IO, compiled into this target from worker/). The session itself
// (state, timers, transport) needs a loop and is not driven here. Checks, beyond sanitizers:
// - the packets rejoin, with '\x1e', to the payload; there is one more than there are separators;
// - a 'b' packet that decodes re-encodes to base64 of the same length that decodes to the same
//   bytes;
// - the packets, queued as the server's frames (text: make_text_frame; binary: a binary frame),
//   come back from append_poll_payload as the same packets (binary ones in canonical base64), so
//   a payload of text packets and canonical 'b' packets re-encodes to exactly the input;
// - view_frame() on the raw input accepts only a whole unmasked text or binary frame and gives
//   its payload (the input's tail), which append_frame frames back to the same payload.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/base64.h"
#include "common/engineio.h"
#include "common/socketio.h"
#include "common/ws_codec.h"
#include "worker/frame.h"
#include "worker/poll_payload.h"

namespace eio = chatd::eio;

namespace {

// A broken property names itself before the abort libFuzzer reports.
void fail(const char* what, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, line, what);
  std::abort();
}
#define CHECK(cond) ((cond) ? (void)0 : fail(#cond, __LINE__))

// One packet as the session reads it; returns what the server would queue for it (as the
// packet comes back over polling), or nullopt when the session refuses the packet.
struct packet_view {
  bool binary = false;
  std::string bytes;  // binary: decoded; text: the packet as is
};

std::optional<packet_view> read_packet(std::string_view p) {
  if (!p.empty() && p[0] == 'b') {
    std::optional<std::string> bytes = chatd::base64::decode(p.substr(1));
    if (!bytes) return std::nullopt;
    std::string again = chatd::base64::encode(*bytes);
    CHECK(again.size() == p.size() - 1);
    CHECK(chatd::base64::decode(again) == bytes);
    return packet_view{true, std::move(*bytes)};
  }
  if (p.empty()) return std::nullopt;  // "empty packet"
  switch (static_cast<eio::packet_type>(p[0])) {
    case eio::packet_type::message: {
      std::string why;
      auto sp = chatd::sio::parse(p.substr(1), &why);
      CHECK(sp.has_value() || !why.empty());
      break;
    }
    case eio::packet_type::pong:
    case eio::packet_type::close:
    case eio::packet_type::noop:
    case eio::packet_type::ping:
      break;
    default:
      return std::nullopt;  // "parse error"
  }
  return packet_view{false, std::string(p)};
}

void fuzz_payload(std::string_view payload) {
  std::vector<std::string_view> pieces;
  eio::for_each_packet(payload, [&](std::string_view p) { pieces.push_back(p); });
  size_t separators = 0;
  for (char c : payload) separators += c == eio::record_separator;
  CHECK(pieces.size() == separators + 1);
  std::string rejoined;
  for (size_t i = 0; i < pieces.size(); ++i) {
    CHECK(pieces[i].find(eio::record_separator) == std::string_view::npos);
    if (i > 0) rejoined.push_back(eio::record_separator);
    rejoined.append(pieces[i]);
  }
  CHECK(rejoined == payload);

  // The accepted packets, queued as frames and cut out again.
  std::vector<chatd::shared_bytes> frames;
  std::vector<std::string> expect;
  bool canonical = true;
  for (std::string_view p : pieces) {
    std::optional<packet_view> v = read_packet(p);
    if (!v) {
      canonical = false;
      continue;
    }
    if (v->binary) {
      std::string f;
      chatd::ws::append_frame(f, chatd::ws::opcode::binary, v->bytes);
      frames.push_back(chatd::make_bytes(std::move(f)));
      std::string text = "b" + chatd::base64::encode(v->bytes);
      canonical = canonical && text == p;
      expect.push_back(std::move(text));
    } else {
      frames.push_back(chatd::make_text_frame({v->bytes}));
      expect.push_back(std::move(v->bytes));
    }
  }
  std::string out;
  chatd::append_poll_payload(out, frames);
  std::vector<std::string> back;
  eio::for_each_packet(out, [&](std::string_view p) { back.emplace_back(p); });
  if (expect.empty()) {
    CHECK(out.empty());
  } else {
    CHECK(back == expect);
  }
  if (canonical) CHECK(out == payload);
}

void fuzz_frame(std::string_view bytes) {
  std::optional<chatd::frame_view> v = chatd::view_frame(bytes);
  if (!v) return;
  CHECK(bytes.size() >= 2);
  CHECK((static_cast<uint8_t>(bytes[1]) & 0x80) == 0);
  auto op = static_cast<chatd::ws::opcode>(static_cast<uint8_t>(bytes[0]) & 0x0f);
  CHECK(op == chatd::ws::opcode::text || op == chatd::ws::opcode::binary);
  CHECK(v->binary == (op == chatd::ws::opcode::binary));
  CHECK(v->payload.data() + v->payload.size() == bytes.data() + bytes.size());
  std::string again;
  chatd::ws::append_frame(again, op, v->payload);
  CHECK(again.size() <= bytes.size());  // ours uses the shortest length form
  auto back = chatd::view_frame(again);
  CHECK(back && back->binary == v->binary && back->payload == v->payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz_payload(bytes);
  fuzz_frame(bytes);
  return 0;
}
