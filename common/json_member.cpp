// Reading and setting one string member of a JSON object (common/json_member.h), over a
// simdjson DOM; set re-serializes with simdjson's minifier, keys escaped as JSON.stringify does.

#include "common/json_member.h"

#include "common/json_text.h"

#include <simdjson.h>

namespace chatd {

json_string_member json_get_string_member(std::string_view json, std::string_view key) {
  json_string_member out;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get(obj) != simdjson::SUCCESS) return out;
  out.state = json_member_state::absent;
  for (auto [k, v] : obj) {
    if (k != key) continue;
    std::string_view s;
    if (v.get(s) == simdjson::SUCCESS) {
      out.state = json_member_state::string;
      out.value = s;
    } else {
      out.state = json_member_state::not_string;
      out.value.clear();
    }
  }
  return out;
}

std::optional<std::string> json_set_string_member(std::string_view json, std::string_view key,
                                                  std::string_view value, std::string_view drop) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get(obj) != simdjson::SUCCESS) return std::nullopt;
  std::string out = "{";
  bool replaced = false;
  for (auto [k, v] : obj) {
    if (k == key && replaced) continue;  // a duplicate: the one member left holds `value`
    if (!drop.empty() && k == drop) continue;
    if (out.size() > 1) out.push_back(',');
    append_json_string(out, k);
    out.push_back(':');
    if (k == key) {
      append_json_string(out, value);
      replaced = true;
    } else {
      out += simdjson::minify(v);
    }
  }
  if (!replaced) {
    if (out.size() > 1) out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
    append_json_string(out, value);
  }
  out.push_back('}');
  return out;
}

}  // namespace chatd
