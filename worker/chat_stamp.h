#pragma once
// The server's stamp on a `chat` payload: a message id unique across the fleet and the time it
// was relayed, added to the client's object without parsing it (the session's parser already
// checked it is one JSON value). Pure: no clock, no state; chat supplies the id and the time.

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd {

// Appends `payload` to `out` with `"id":<id>,"ts":<ts_ms>` added as its first members, and returns
// true; when `payload` is not a JSON object (a string, a number, an array, null, absent), appends
// nothing and returns false: such a payload is relayed unstamped. First members so that the
// client's own fields stay untouched: when it sent an `id` or `ts` of its own, JSON.parse keeps
// the client's (the last one wins), and the server's id is then in the sender's ACK only.
bool stampable(std::string_view payload);
bool append_stamped(std::string& out, std::string_view payload, std::string_view id, uint64_t ts_ms);

}  // namespace chatd
