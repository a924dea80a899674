#pragma once
// A time as JavaScript's `new Date(ms) + ""` prints it in the process's time zone, e.g.
// "Thu Dec 03 2026 09:45:51 GMT+0000 (Coordinated Universal Time)": socket.handshake.time, which
// a Node peer's fetchSockets() shows for chatd's sockets as for its own. The zone's long name is
// ICU's in Node; here it is the C library's abbreviation, except UTC, which both spell out.

#include <cstdint>
#include <string>

namespace chatd {

std::string js_date_string(uint64_t ms_since_epoch);

}  // namespace chatd
