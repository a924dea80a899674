#pragma once
// A hash for unordered containers keyed by std::string that are looked up by std::string_view
// (with std::equal_to<>): the lookup builds no std::string.

#include <cstddef>
#include <functional>
#include <string_view>

namespace chatd {

struct string_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace chatd
