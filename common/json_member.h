#pragma once
// One string member of a JSON object, read or set: what auth needs of a chat payload's and a
// handshake query's `userId`. Reading leaves the text alone; setting re-serializes the object
// compactly (same keys, same order, equal values), with the member replaced or appended.

#include <optional>
#include <string>
#include <string_view>

namespace chatd {

enum class json_member_state : uint8_t { not_object, absent, not_string, string };

struct json_string_member {
  json_member_state state = json_member_state::not_object;
  std::string value;  // when state == string
};

// The member `key` of the object in `json` (its last occurrence, as JSON.parse keeps).
json_string_member json_get_string_member(std::string_view json, std::string_view key);
// `json` with `key` set to the string `value` (and without the member `drop`, when named);
// nullopt when `json` is not an object.
std::optional<std::string> json_set_string_member(std::string_view json, std::string_view key,
                                                  std::string_view value,
                                                  std::string_view drop = {});

}  // namespace chatd
