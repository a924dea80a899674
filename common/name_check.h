#pragma once
// Names a client chooses (the handshake's channel and userId): valid UTF-8, no control
// characters (C0, DEL, C1), at most a given number of characters (Unicode code points). Pure.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chatd {

// Why `value` is not an acceptable `what` ("channel", "userId"), or nullopt when it is.
// max_chars 0 means no length limit.
std::optional<std::string> check_name(std::string_view what, std::string_view value, size_t max_chars);

}  // namespace chatd
