// WebSocket (RFC 6455) frames: the parser (masked client frames for the server, unmasked server
// frames for chatd-bench's clients) and the frame writers. The parser is on every message's path,
// so a frame that arrives whole is unmasked in place and handed out as a view; only a frame cut by
// the end of a read (partial_) or a message sent in fragments (message_) is copied, into buffers
// that keep their capacity between uses.

#include "common/ws_codec.h"

#include <boost/beast/core/detail/sha1.hpp>

#include <algorithm>
#include <cstring>

#include "common/base64.h"
#include "common/utf8.h"

namespace chatd::ws {

namespace {

// --- reading headers -------------------------------------------------------------------------

// What the parser knows when it looks at a header; the checks that depend on earlier frames.
struct header_context {
  bool in_message;      // a fragmented data message is open
  size_t message_size;  // bytes of it buffered so far
  size_t max_message;
  bool masked;          // frames must carry a masking key (server role); else must not
};

struct frame_header {
  bool fin = false;
  opcode op = opcode::continuation;
  size_t size = 0;      // header bytes, masking key included
  uint64_t payload = 0;
  unsigned char mask[4] = {};
};

bool is_control(unsigned op) { return (op & 0x8) != 0; }

bool is_known_opcode(unsigned op) {
  return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

// Header size announced by the first two bytes. The role decides whether a masking key follows
// (not the mask bit), so the size is known even before the mask bit has been checked.
size_t announced_header_size(unsigned char b1, bool masked) {
  unsigned len7 = b1 & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
}

// Reads the header at `p` (`n` bytes available). Returns the header size once it is all there,
// 0 while more bytes are needed; `error` is set as soon as the bytes seen break the protocol, so
// a bad frame fails at the same point of the stream however the input is split.
size_t read_header(const unsigned char* p, size_t n, const header_context& ctx, frame_header& h,
                   uint16_t& error) {
  if (n < 1) return 0;
  unsigned char b0 = p[0];
  unsigned op = b0 & 0x0F;
  if ((b0 & 0x70) != 0 || !is_known_opcode(op)) {  // RSV1-3 (no extension negotiated)
    error = close_code::protocol_error;
    return 0;
  }
  h.fin = (b0 & 0x80) != 0;
  h.op = static_cast<opcode>(op);
  if (is_control(op)) {
    if (!h.fin) {
      error = close_code::protocol_error;
      return 0;
    }
  } else if ((op == 0x0) != ctx.in_message) {
    // A continuation with no message open, or a new message while one is unfinished.
    error = close_code::protocol_error;
    return 0;
  }
  if (n < 2) return 0;
  unsigned char b1 = p[1];
  unsigned len7 = b1 & 0x7F;
  if (((b1 & 0x80) != 0) != ctx.masked || (is_control(op) && len7 > 125)) {
    error = close_code::protocol_error;
    return 0;
  }
  size_t key_bytes = ctx.masked ? 4 : 0;
  size_t size = announced_header_size(b1, ctx.masked);
  if (n < size - key_bytes) return 0;  // the length is checked before the masking key arrives
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{p[2]} << 8) | p[3];
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) {
      error = close_code::protocol_error;
      return 0;
    }
  }
  if (!is_control(op)) {
    // The whole message must fit, so refuse it before buffering a byte of it.
    size_t room = ctx.max_message - std::min(ctx.message_size, ctx.max_message);
    if (len > room) {
      error = close_code::message_too_big;
      return 0;
    }
  }
  if (n < size) return 0;
  h.payload = len;
  h.size = size;
  if (ctx.masked) std::memcpy(h.mask, p + size - 4, 4);
  return size;
}

// How many more bytes the frame starting in `buf` needs before its header can be read.
size_t header_bytes_missing(const std::string& buf, bool masked) {
  if (buf.size() < 2) return 2 - buf.size();
  size_t size = announced_header_size(static_cast<unsigned char>(buf[1]), masked);
  return size > buf.size() ? size - buf.size() : 0;
}

void unmask(char* data, size_t len, const unsigned char mask[4]) {
  uint32_t m32;
  std::memcpy(&m32, mask, 4);
  uint64_t m64 = (uint64_t{m32} << 32) | m32;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= m64;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < len; ++i) data[i] = static_cast<char>(data[i] ^ mask[i & 3]);
}

// --- close frames ------------------------------------------------------------------------------

// Codes a peer may send (RFC 6455 7.4 and the IANA registry): 1004-1006 and 1015 are reserved
// and must never appear on the wire; 3000-4999 belong to libraries and applications.
bool valid_close_code(uint16_t code) {
  if (code >= 1000 && code <= 1014) return code < 1004 || code > 1006;
  return code >= 3000 && code <= 4999;
}

// Bytes of `s` that fit in `max`, cut on a character boundary so a reason stays valid UTF-8.
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

// --- parser ------------------------------------------------------------------------------------

frame_parser::frame_parser(size_t max_message, role r)
    : max_message_(max_message), masked_(r == role::server) {}

uint16_t frame_parser::feed(std::span<char> data, frame_handler& handler) {
  if (failed_ != 0) return failed_;

  enum class step { next, stop, fail };

  // Delivers one whole, unmasked frame. `payload` may point into the caller's span or into
  // partial_; it is only read before the handler returns.
  auto deliver = [&](const frame_header& h, char* payload, size_t len) -> step {
    std::string_view view(payload, len);
    switch (h.op) {
      case opcode::text:
      case opcode::binary:
        if (!h.fin) {
          in_message_ = true;
          message_op_ = h.op;
          message_.assign(view);
          return step::next;
        }
        if (h.op == opcode::text && !valid_utf8(view)) {
          failed_ = close_code::invalid_payload;
          return step::fail;
        }
        return handler.on_message(h.op, view) ? step::next : step::stop;
      case opcode::continuation: {
        message_.append(view);
        if (!h.fin) return step::next;
        in_message_ = false;
        // UTF-8 is checked on the joined message: fragments may split a character.
        if (message_op_ == opcode::text && !valid_utf8(message_)) {
          message_.clear();
          failed_ = close_code::invalid_payload;
          return step::fail;
        }
        bool go_on = handler.on_message(message_op_, message_);
        message_.clear();
        return go_on ? step::next : step::stop;
      }
      case opcode::ping:
        return handler.on_ping(view) ? step::next : step::stop;
      case opcode::pong:
        return handler.on_pong(view) ? step::next : step::stop;
      case opcode::close: {
        if (len == 0) {
          return handler.on_close(close_code::no_status, {}) ? step::next : step::stop;
        }
        if (len == 1) {
          failed_ = close_code::protocol_error;
          return step::fail;
        }
        auto code = static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        if (!valid_close_code(code)) {
          failed_ = close_code::protocol_error;
          return step::fail;
        }
        std::string_view reason = view.substr(2);
        if (!valid_utf8(reason)) {
          failed_ = close_code::invalid_payload;
          return step::fail;
        }
        return handler.on_close(code, reason) ? step::next : step::stop;
      }
    }
    return step::next;  // unreachable: read_header admits known opcodes only
  };

  auto context = [&] {
    return header_context{in_message_, message_.size(), max_message_, masked_};
  };

  char* p = data.data();
  size_t n = data.size();

  // First finish a frame left incomplete by the previous call.
  while (!partial_.empty()) {
    frame_header h;
    uint16_t error = 0;
    auto head = reinterpret_cast<const unsigned char*>(partial_.data());
    size_t hs = read_header(head, partial_.size(), context(), h, error);
    if (error != 0) {
      partial_.clear();
      return failed_ = error;
    }
    if (hs == 0) {  // the header itself is still cut: complete it, then read it again
      if (n == 0) return 0;
      size_t take = std::min(header_bytes_missing(partial_, masked_), n);
      partial_.append(p, take);
      p += take;
      n -= take;
      continue;
    }
    size_t len = static_cast<size_t>(h.payload);
    if (partial_.size() < hs + len) {
      if (n == 0) return 0;
      size_t take = std::min(hs + len - partial_.size(), n);
      partial_.reserve(hs + len);
      partial_.append(p, take);
      p += take;
      n -= take;
      if (partial_.size() < hs + len) return 0;
    }
    char* payload = partial_.data() + hs;
    if (masked_) unmask(payload, len, h.mask);
    step s = deliver(h, payload, len);
    partial_.clear();
    if (s == step::fail) return failed_;
    if (s == step::stop) return 0;
  }

  // Then the frames of this span: whole ones are handled in place.
  while (n > 0) {
    frame_header h;
    uint16_t error = 0;
    size_t hs = read_header(reinterpret_cast<const unsigned char*>(p), n, context(), h, error);
    if (error != 0) return failed_ = error;
    if (hs == 0 || n - hs < h.payload) {
      if (hs != 0) partial_.reserve(hs + static_cast<size_t>(h.payload));
      partial_.assign(p, n);
      return 0;
    }
    char* payload = p + hs;
    size_t len = static_cast<size_t>(h.payload);
    if (masked_) unmask(payload, len, h.mask);
    step s = deliver(h, payload, len);
    if (s == step::fail) return failed_;
    if (s == step::stop) return 0;
    p += hs + len;
    n -= hs + len;
  }
  return 0;
}

void frame_parser::shrink_if_idle() {
  if (!partial_.empty() || !message_.empty()) return;
  std::string().swap(partial_);
  std::string().swap(message_);
}

// --- writers -----------------------------------------------------------------------------------

size_t header_size(size_t len) { return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10; }

size_t write_header(char* out, opcode op, size_t payload_len, bool fin) {
  auto* o = reinterpret_cast<unsigned char*>(out);
  o[0] = static_cast<unsigned char>((fin ? 0x80 : 0x00) | static_cast<unsigned>(op));
  if (payload_len < 126) {
    o[1] = static_cast<unsigned char>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    o[1] = 126;
    o[2] = static_cast<unsigned char>(payload_len >> 8);
    o[3] = static_cast<unsigned char>(payload_len);
    return 4;
  }
  o[1] = 127;
  uint64_t len = payload_len;
  for (int i = 0; i < 8; ++i) o[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
  return 10;
}

void append_frame(std::string& out, opcode op, std::string_view payload) {
  char head[max_header_size];
  size_t hs = write_header(head, op, payload.size());
  out.reserve(out.size() + hs + payload.size());
  out.append(head, hs);
  out.append(payload);
}

std::string close_frame(uint16_t code, std::string_view reason) {
  std::string out;
  if (code == close_code::no_status) {
    append_frame(out, opcode::close, {});
    return out;
  }
  char body[125];
  body[0] = static_cast<char>(code >> 8);
  body[1] = static_cast<char>(code & 0xFF);
  std::string_view r = utf8_prefix(reason, sizeof body - 2);
  if (!r.empty()) std::memcpy(body + 2, r.data(), r.size());
  append_frame(out, opcode::close, std::string_view(body, 2 + r.size()));
  return out;
}

void append_masked_frame(std::string& out, opcode op, std::string_view payload, uint32_t mask_key,
                         bool fin) {
  char head[max_header_size];
  size_t hs = write_header(head, op, payload.size(), fin);
  head[1] = static_cast<char>(head[1] | 0x80);
  unsigned char mask[4] = {
      static_cast<unsigned char>(mask_key >> 24), static_cast<unsigned char>(mask_key >> 16),
      static_cast<unsigned char>(mask_key >> 8), static_cast<unsigned char>(mask_key)};
  size_t start = out.size();
  out.reserve(start + hs + 4 + payload.size());
  out.append(head, hs);
  out.append(reinterpret_cast<const char*>(mask), 4);
  out.append(payload);
  unmask(out.data() + start + hs + 4, payload.size(), mask);  // XOR both ways
}

std::string accept_key(std::string_view sec_websocket_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  namespace detail = boost::beast::detail;
  detail::sha1_context ctx;
  detail::init(ctx);
  detail::update(ctx, sec_websocket_key.data(), sec_websocket_key.size());
  detail::update(ctx, guid.data(), guid.size());
  unsigned char digest[detail::sha1_context::digest_size];
  detail::finish(ctx, digest);
  return base64::encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace chatd::ws
