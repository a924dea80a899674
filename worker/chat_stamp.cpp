// See chat_stamp.h.

#include "worker/chat_stamp.h"

#include "common/json_text.h"

#include <fmt/format.h>

namespace chatd {

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trimmed(std::string_view payload) {
  while (!payload.empty() && is_json_space(payload.front())) payload.remove_prefix(1);
  while (!payload.empty() && is_json_space(payload.back())) payload.remove_suffix(1);
  return payload;
}

}  // namespace

bool stampable(std::string_view payload) {
  // One valid JSON value that opens with '{' is an object and closes with '}'.
  payload = trimmed(payload);
  return payload.size() >= 2 && payload.front() == '{' && payload.back() == '}';
}

bool append_stamped(std::string& out, std::string_view payload, std::string_view id, uint64_t ts_ms) {
  if (!stampable(payload)) return false;
  payload = trimmed(payload);
  std::string_view members = payload.substr(1);  // after the opening brace
  size_t first = 0;
  while (first < members.size() && is_json_space(members[first])) ++first;
  const bool empty_object = members[first] == '}';
  out.reserve(out.size() + payload.size() + id.size() + 32);
  out.append(R"({"id":)");
  append_json_string(out, id);
  fmt::format_to(std::back_inserter(out), R"(,"ts":{})", ts_ms);
  if (empty_object) {
    out.push_back('}');
  } else {
    out.push_back(',');
    out.append(members);
  }
  return true;
}

}  // namespace chatd
