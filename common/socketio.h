#pragma once
// Socket.IO v5 packet codec: `<type>[<attachments>-][<nsp>,][<ackId>][JSON]`, with the
// reference decoder's validity rules. Sans-IO; parsed packets are views into the input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatd::sio {

enum class packet_type : uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct packet {
  packet_type type = packet_type::event;
  std::string_view nsp = "/";
  int64_t ack_id = -1;       // -1: none
  uint32_t attachments = 0;  // binary packets only
  std::string_view data;     // raw JSON text; empty when the packet has none
};

// Parses the payload of an Engine.IO message packet (the text after the leading '4') and applies
// the decoder's checks: CONNECT data an object (or absent), DISCONNECT without data, EVENT a
// non-empty array whose first element is a string not reserved (connect, connect_error,
// disconnect, disconnecting, newListener, removeListener) or a number, ACK an array, the JSON
// well formed. On failure returns nullopt and, if `why` is given, says why.
std::optional<packet> parse(std::string_view text, std::string* why = nullptr);

// The parts of an EVENT's JSON array that the chat needs, as views into `data`.
struct event_args {
  std::string name;              // the event name, unescaped (numbers as their text)
  std::string_view first_arg;    // raw JSON of the first argument; empty if there is none
  size_t argc = 0;               // number of arguments after the name
};
// Splits a validated EVENT array. Returns nullopt if `data` is not such an array.
std::optional<event_args> split_event(std::string_view data);

// A BINARY_EVENT's data against its attachments, as socket.io-parser's reconstructPacket checks
// it: every {"_placeholder":true,...} object has a numeric num in [0, attachments). A packet
// that fails this makes the reference decoder throw ("illegal attachments").
bool valid_placeholders(std::string_view data, size_t attachments);

// Encoders (server to client). `nsp` "/" is omitted on the wire.
// `4` + `2` + [nsp,] + [ackId] + data  — the Engine.IO '4' prefix included.
std::string encode(packet_type type, std::string_view nsp, std::string_view data,
                   int64_t ack_id = -1);
// 42["<event>",<arg_json>] (Engine.IO prefix included); `arg_json` is spliced as is.
std::string encode_event(std::string_view event, std::string_view arg_json);

}  // namespace chatd::sio
