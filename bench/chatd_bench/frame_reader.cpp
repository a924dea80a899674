// Server-to-client WebSocket frame parsing for chatd-bench's clients.

#include "bench/chatd_bench/frame_reader.h"

namespace chatd::bench {

namespace {

bool known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

struct header {
  bool fin = false;
  uint8_t op = 0;
  uint64_t length = 0;
  size_t size = 0;  // header bytes
};

// 0: need more bytes; >0: parsed; the close code negated on error.
int parse_header(std::string_view in, header& h) {
  if (in.size() < 2) return 0;
  const auto b0 = static_cast<uint8_t>(in[0]);
  const auto b1 = static_cast<uint8_t>(in[1]);
  if ((b0 & 0x70) != 0) return -ws::close_code::protocol_error;  // no extension negotiated
  if ((b1 & 0x80) != 0) return -ws::close_code::protocol_error;  // servers never mask
  h.fin = (b0 & 0x80) != 0;
  h.op = b0 & 0x0F;
  if (!known_opcode(h.op)) return -ws::close_code::protocol_error;
  const uint8_t len7 = b1 & 0x7F;
  if (h.op >= 0x8 && (!h.fin || len7 > 125)) return -ws::close_code::protocol_error;
  if (len7 < 126) {
    h.length = len7;
    h.size = 2;
  } else if (len7 == 126) {
    if (in.size() < 4) return 0;
    h.length = (uint64_t{static_cast<uint8_t>(in[2])} << 8) | static_cast<uint8_t>(in[3]);
    h.size = 4;
  } else {
    if (in.size() < 10) return 0;
    h.length = 0;
    for (int i = 2; i < 10; ++i) h.length = (h.length << 8) | static_cast<uint8_t>(in[i]);
    if (h.length >> 63) return -ws::close_code::protocol_error;
    h.size = 10;
  }
  return 1;
}

}  // namespace

uint16_t frame_reader::on_frame(bool fin, ws::opcode op, std::string_view payload,
                                ws::frame_handler& h) {
  switch (op) {
    case ws::opcode::ping:
      return h.on_ping(payload) ? 0 : stop;
    case ws::opcode::pong:
      return h.on_pong(payload) ? 0 : stop;
    case ws::opcode::close: {
      if (payload.size() == 1) return ws::close_code::protocol_error;
      uint16_t code = ws::close_code::no_status;
      std::string_view reason;
      if (payload.size() >= 2) {
        code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                     static_cast<uint8_t>(payload[1]));
        reason = payload.substr(2);
      }
      return h.on_close(code, reason) ? 0 : stop;
    }
    case ws::opcode::text:
    case ws::opcode::binary:
      if (in_message_) return ws::close_code::protocol_error;  // a new message inside one
      if (fin) return h.on_message(op, payload) ? 0 : stop;
      in_message_ = true;
      message_op_ = op;
      message_.assign(payload);
      return 0;
    case ws::opcode::continuation:
      if (!in_message_) return ws::close_code::protocol_error;
      if (message_.size() + payload.size() > max_message_) return ws::close_code::message_too_big;
      message_.append(payload);
      if (!fin) return 0;
      in_message_ = false;
      {
        // Moved out first so a handler that feeds again sees a clean state.
        std::string whole = std::move(message_);
        message_.clear();
        return h.on_message(message_op_, whole) ? 0 : stop;
      }
  }
  return ws::close_code::protocol_error;
}

uint16_t frame_reader::feed(std::string_view data, ws::frame_handler& handler) {
  if (failed_ != 0) return failed_;
  std::string joined;
  std::string_view in = data;
  if (!partial_.empty()) {
    joined = std::move(partial_);
    partial_.clear();
    joined.append(data);
    in = joined;
  }
  size_t pos = 0;
  while (pos < in.size()) {
    header h;
    const int r = parse_header(in.substr(pos), h);
    if (r < 0) {
      failed_ = static_cast<uint16_t>(-r);
      partial_.clear();
      message_.clear();
      return failed_;
    }
    if (r == 0) break;
    if (h.length > max_message_) {
      failed_ = ws::close_code::message_too_big;
      partial_.clear();
      message_.clear();
      return failed_;
    }
    if (in.size() - pos - h.size < h.length) break;
    const uint16_t rc = on_frame(h.fin, static_cast<ws::opcode>(h.op),
                                 in.substr(pos + h.size, static_cast<size_t>(h.length)), handler);
    if (rc == stop) return 0;
    if (rc != 0) {
      failed_ = rc;
      partial_.clear();
      message_.clear();
      return failed_;
    }
    pos += h.size + static_cast<size_t>(h.length);
  }
  partial_.assign(in.substr(pos));
  return 0;
}

}  // namespace chatd::bench
