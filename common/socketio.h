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
  std::string_view args;         // raw JSON of every argument, comma-separated, as in the array
                                 // (empty if there is none): what an echo sends back
  size_t argc = 0;               // number of arguments after the name
};
// Splits a validated EVENT array. Returns nullopt if `data` is not such an array.
std::optional<event_args> split_event(std::string_view data);

// The raw JSON of a validated array's first element ("" when the array is empty), as a view
// into `array`; nullopt if `array` is not an array. An ACK's first argument, for one.
std::optional<std::string_view> first_element(std::string_view array);

// A BINARY_EVENT's data against its attachments, as socket.io-parser's reconstructPacket checks
// it: every {"_placeholder":true,...} object has a numeric num in [0, attachments). A packet
// that fails this makes the reference decoder throw ("illegal attachments").
bool valid_placeholders(std::string_view data, size_t attachments);

// --- Encoders (server to client) ---------------------------------------------------------------
// `nsp` "/" is omitted on the wire; every encoder includes the Engine.IO '4' prefix. A broadcast
// is framed once with make_text_frame({parts...}) (worker/frame.h), so the pieces around a
// payload are also given on their own (views, or short strings built once) to be framed with it.

// `4` + `<type>` + [nsp,] + [ackId] + data.
std::string encode(packet_type type, std::string_view nsp, std::string_view data,
                   int64_t ack_id = -1);
// "40".."46": the start of a main-namespace packet of `type` without ack id.
constexpr std::string_view type_prefix(packet_type type) {
  constexpr std::string_view prefixes[] = {"40", "41", "42", "43", "44", "45", "46"};
  return prefixes[static_cast<size_t>(type)];
}
// The CONNECT answer, 40{"sid":"<sid>"}: connect_reply_head + sid + connect_reply_tail (a sid is
// base64url, it needs no escaping).
inline constexpr std::string_view connect_reply_head = R"(40{"sid":")";
inline constexpr std::string_view connect_reply_tail = R"("})";
// 42["<event>",<arg_json>] (Engine.IO prefix included); `arg_json` is spliced as is.
std::string encode_event(std::string_view event, std::string_view arg_json);
// 42["<event>", — the same EVENT cut before its argument: event_head(e) + arg_json + event_tail.
// Build it once per event name; the name is escaped as JSON.stringify does.
std::string event_head(std::string_view event);
// The same on namespace `nsp`: 42/<nsp>,["<event>", ("/" is omitted, as above).
std::string event_head(std::string_view nsp, std::string_view event);
// 42[/<nsp>,]["<event>"[,<args_json>]]: an EVENT with its arguments given as the JSON between
// the array's brackets after the name (event_args::args), empty for none.
std::string encode_event_args(std::string_view nsp, std::string_view event, std::string_view args_json);
inline constexpr std::string_view event_tail = "]";
// ["<event>",<arg_json>]: an EVENT's data array alone (packet.data on the Redis bus).
std::string event_data(std::string_view event, std::string_view arg_json);
// 45<n>-: a BINARY_EVENT with `attachments` attachments, before its data JSON.
std::string binary_event_head(size_t attachments);
// 4<type><n>-[<nsp>,][<ackId>]<data>: a BINARY_EVENT or BINARY_ACK with `attachments`
// attachments (the binary frames follow it).
std::string encode_binary(packet_type type, std::string_view nsp, size_t attachments,
                          std::string_view data, int64_t ack_id = -1);
// 43<ackId><args_json>: an ACK; `args_json` is its arguments as a JSON array ("[]": none).
std::string encode_ack(int64_t ack_id, std::string_view args_json);
// The same on namespace `nsp`: 43/<nsp>,<ackId><args_json>.
std::string encode_ack(std::string_view nsp, int64_t ack_id, std::string_view args_json);
// 40[<nsp>,]{"sid":"<sid>"}: the answer to a CONNECT on `nsp`.
std::string encode_connect_reply(std::string_view nsp, std::string_view sid);
// 40[<nsp>,]{"sid":"<sid>","pid":"<pid>"}: the same with connection state recovery on (the
// client keeps the pid and sends it back, with its last offset, when it reconnects).
std::string encode_connect_reply(std::string_view nsp, std::string_view sid, std::string_view pid);
// 41[<nsp>,]: a server-side DISCONNECT of `nsp`.
std::string encode_disconnect(std::string_view nsp);
// 44[<nsp>,]{"message":"<message>"}: CONNECT_ERROR as the reference server writes it.
std::string encode_connect_error(std::string_view nsp, std::string_view message);
// The same with err.data: 44{"message":…,"data":<data_json>} (a middleware's next(err) with
// err.data set).
std::string encode_connect_error(std::string_view nsp, std::string_view message,
                                 std::string_view data_json);

}  // namespace chatd::sio
