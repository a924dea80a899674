#pragma once
// Client side of RFC 6455 framing for chatd-bench: parses the UNMASKED frames a server sends
// (common/ws_codec.h's frame_parser is the server side and insists on masked frames). Sans-IO:
// bytes in, complete messages out through the same ws::frame_handler interface. It checks what a
// client must (no mask, RSV clear, known opcodes, control frames final and short, fragment order,
// size bound) but not UTF-8: a load generator trusts the server's text to be text.

#include "common/ws_codec.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::bench {

class frame_reader {
 public:
  explicit frame_reader(size_t max_message) : max_message_(max_message) {}

  // Consumes all of `data`; an unfinished frame is kept until the rest arrives. Returns 0 when
  // fine, else the close code the connection fails with (1002 protocol error, 1009 too big); once
  // failed, every later call returns the same code. A handler returning false stops parsing: the
  // rest of the input is dropped and 0 is returned.
  uint16_t feed(std::string_view data, ws::frame_handler& handler);

  size_t buffered() const { return partial_.size() + message_.size(); }

 private:
  // Handles one complete frame; returns 0, a close code, or `stop` when the handler said stop.
  static constexpr uint16_t stop = 1;
  uint16_t on_frame(bool fin, ws::opcode op, std::string_view payload, ws::frame_handler& h);

  size_t max_message_;
  uint16_t failed_ = 0;
  std::string partial_;  // bytes of a frame not yet complete
  std::string message_;  // fragments of a message not yet final
  ws::opcode message_op_ = ws::opcode::continuation;
  bool in_message_ = false;
};

}  // namespace chatd::bench
