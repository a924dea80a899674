// Polling payloads cut out of shared WebSocket frames.

#include "worker/poll_payload.h"

#include "common/base64.h"
#include "common/engineio.h"
#include "common/ws_codec.h"

#include <cstdint>

namespace chatd {

std::optional<frame_view> view_frame(std::string_view frame) {
  if (frame.size() < 2) return std::nullopt;
  auto b0 = static_cast<uint8_t>(frame[0]);
  auto b1 = static_cast<uint8_t>(frame[1]);
  if ((b1 & 0x80) != 0) return std::nullopt;  // masked: not one of ours
  uint64_t len = b1 & 0x7f;
  size_t head = 2;
  if (len == 126) {
    if (frame.size() < 4) return std::nullopt;
    len = (uint64_t{static_cast<uint8_t>(frame[2])} << 8) | static_cast<uint8_t>(frame[3]);
    head = 4;
  } else if (len == 127) {
    if (frame.size() < 10) return std::nullopt;
    len = 0;
    for (size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(frame[i]);
    head = 10;
  }
  if (frame.size() - head != len) return std::nullopt;
  uint8_t op = b0 & 0x0f;
  if (op != static_cast<uint8_t>(ws::opcode::text) && op != static_cast<uint8_t>(ws::opcode::binary)) {
    return std::nullopt;
  }
  return frame_view{op == static_cast<uint8_t>(ws::opcode::binary), frame.substr(head)};
}

void append_poll_payload(std::string& out, const std::vector<shared_bytes>& frames) {
  bool first = true;
  for (const shared_bytes& f : frames) {
    std::optional<frame_view> v = view_frame(*f);
    if (!v) continue;
    if (!first) out.push_back(eio::record_separator);
    first = false;
    if (v->binary) {
      out.push_back('b');
      out.append(base64::encode(v->payload));
    } else {
      out.append(v->payload);
    }
  }
}

}  // namespace chatd
