#pragma once
// Sans-IO WebSocket (RFC 6455) codec: bytes in, messages out; frames built into caller buffers.
// One parser for both ends (the server reads masked client frames, chatd-bench's clients read
// unmasked server frames). No sockets, no loop, no allocation on the fast path (a frame that
// arrives whole is unmasked in place and handed out as a view into the caller's buffer).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace chatd::ws {

enum class opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005;  // never sent; reported when a close frame has no code
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
}  // namespace close_code

// Receives what the parser decodes. Each callback returns false to stop parsing at once (for
// example when the connection is being closed); the parser then returns without error and the
// rest of the input is dropped. Views are valid only during the call.
class frame_handler {
 public:
  virtual ~frame_handler() = default;
  // A complete data message (fragments joined); `op` is text or binary. Text is valid UTF-8.
  virtual bool on_message(opcode op, std::string_view payload) = 0;
  virtual bool on_ping(std::string_view payload) = 0;
  virtual bool on_pong(std::string_view payload) = 0;
  // A close frame; `code` is close_code::no_status when the frame had no body.
  virtual bool on_close(uint16_t code, std::string_view reason) = 0;
};

// Which end of the connection reads the frames. RFC 6455 5.1: a server fails the connection on an
// unmasked frame, a client on a masked one; everything else is checked the same way.
enum class role : uint8_t {
  server,  // reads client-to-server frames: masked
  client,  // reads server-to-client frames: unmasked (chatd-bench, tests)
};

// Parses the frames the peer of `role` sends. Enforces: masking as the role requires, RSV bits
// clear, known opcodes, control frames final and <= 125 bytes, fragmentation order, UTF-8 in text
// and close reasons, valid close codes, message size <= max_message. The role is a member read
// once per frame header, not a virtual call or a per-byte branch.
class frame_parser {
 public:
  explicit frame_parser(size_t max_message, role r = role::server);

  // Consumes all of `data` (mutable: masked payloads are unmasked in place); partial frames are
  // kept internally until the rest arrives. Returns 0 when fine, or the close code to fail the
  // connection with (1002 protocol error, 1007 invalid payload, 1009 too big). Once it has
  // failed, every later call returns the same code.
  uint16_t feed(std::span<char> data, frame_handler& handler);

  // Bytes held for an unfinished frame or message (memory accounting, idle trimming).
  size_t buffered() const { return partial_.size() + message_.size(); }
  // Frees buffer capacity when nothing is pending (keeps idle connections small).
  void shrink_if_idle();

 private:
  size_t max_message_;
  bool masked_;  // frames carry a masking key (role::server)
  uint16_t failed_ = 0;
  std::string partial_;  // bytes of a frame not yet complete
  std::string message_;  // fragments of a message not yet final
  opcode message_op_ = opcode::continuation;
  bool in_message_ = false;
};

// Largest frame header a server writes: 2 + 8 bytes (servers never mask).
inline constexpr size_t max_header_size = 10;
// Size of the header for a payload of `len` bytes.
size_t header_size(size_t len);
// Writes an unmasked frame header into `out` (room for max_header_size bytes); returns its size.
size_t write_header(char* out, opcode op, size_t payload_len, bool fin = true);
// Appends a whole unmasked frame to `out`.
void append_frame(std::string& out, opcode op, std::string_view payload);
// A close frame with `code` and an optional reason (truncated to fit 125 bytes); for
// close_code::no_status, which is never sent, a close frame without a body (ws's close()).
std::string close_frame(uint16_t code, std::string_view reason = {});
// Client side (tests, load generator): appends a frame masked with `mask_key`.
void append_masked_frame(std::string& out, opcode op, std::string_view payload, uint32_t mask_key,
                         bool fin = true);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2).
std::string accept_key(std::string_view sec_websocket_key);

}  // namespace chatd::ws
