#pragma once
// Outgoing bytes shared by many recipients. A broadcast is framed once into one immutable buffer;
// every recipient's queue holds a reference to it, so a room of N members costs one allocation
// and N reference-count increments, not N copies.

#include "common/ws_codec.h"

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace chatd {

using shared_bytes = std::shared_ptr<const std::string>;

// One WebSocket text frame whose payload is the concatenation of `parts` (one allocation).
shared_bytes make_text_frame(std::initializer_list<std::string_view> parts);

// Raw bytes (an HTTP response, say) to queue as they are.
shared_bytes make_bytes(std::string bytes);

}  // namespace chatd
