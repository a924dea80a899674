// Names a client chooses: UTF-8, printable, bounded (common/name_check.h).

#include "common/name_check.h"

#include "common/utf8.h"

#include <fmt/format.h>

namespace chatd {

std::optional<std::string> check_name(std::string_view what, std::string_view value, size_t max_chars) {
  if (!valid_utf8(value)) return fmt::format("{} is not valid UTF-8", what);
  size_t chars = 0;
  for (size_t i = 0; i < value.size(); ++chars) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7F) return fmt::format("{} contains a control character", what);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // C1 controls U+0080..U+009F are C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < value.size() && static_cast<unsigned char>(value[i + 1]) < 0xA0) {
      return fmt::format("{} contains a control character", what);
    }
    i += next_utf8(value, i).len;
  }
  if (max_chars > 0 && chars > max_chars) {
    return fmt::format("{} is longer than {} characters", what, max_chars);
  }
  return std::nullopt;
}

}  // namespace chatd
