#pragma once
// The argument of a chat `history` event (README "History and connection state recovery"):
// emitWithAck("history", {room?, limit?}). Sans-IO: JSON text in, the room and count out, or
// the reason it is refused (sent back in the ACK).

#include "common/expected.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd {

struct history_request {
  std::string room;    // empty: the member's channel
  uint32_t limit = 0;  // at most max_messages
};

// `arg_json` is the event's first argument ("" when there was none: everything defaults).
// `limit` defaults to, and is clamped at, `max_messages`; it must be a positive integer.
expected<history_request> parse_history_request(std::string_view arg_json, uint32_t max_messages);

}  // namespace chatd
