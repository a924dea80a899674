#pragma once
// Long-polling payloads from the frames a session queued. Broadcasts are framed once for
// WebSocket recipients; a polling recipient queues the same shared frame and the payload is cut
// out of it here (text frame: the packet as is; binary frame: "b" + base64), joined by '\x1e'.
// So the WebSocket fast path stays one allocation per broadcast whatever the mix of transports.

#include "worker/frame.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

struct frame_view {
  bool binary = false;
  std::string_view payload;
};

// Reads an unmasked server frame (as make_text_frame / ws::append_frame write them); nullopt
// when `frame` is not one whole frame.
std::optional<frame_view> view_frame(std::string_view frame);

// Appends the polling payload of `frames` to `out` (packets joined by the record separator).
void append_poll_payload(std::string& out, const std::vector<shared_bytes>& frames);

}  // namespace chatd
