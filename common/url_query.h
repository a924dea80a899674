#pragma once
// URL query strings: split, percent-decode ('+' is a space, as Node's querystring), and render as
// the JSON object Socket.IO exposes as `socket.handshake.query` (a repeated key becomes an array).

#include "common/json_text.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatd {

struct url_query {
  std::vector<std::pair<std::string, std::string>> params;  // in order of appearance, decoded

  // First value for `key`, or nullptr.
  const std::string* get(std::string_view key) const;
  // {"k":"v",...}; keys in first-appearance order; repeated keys as arrays of strings.
  std::string to_json() const;
};

// Parses the part after '?' (without it). Malformed percent escapes are kept literally.
url_query parse_url_query(std::string_view query);

// Splits a request target into path and query ("/a?b=1" -> "/a", "b=1").
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

}  // namespace chatd
