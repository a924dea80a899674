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
  std::string_view body = payload.substr(0, payload.size() - 1);  // without the closing brace
  size_t inner = 1;
  while (inner < body.size() && is_json_space(body[inner])) ++inner;
  const bool empty_object = inner == body.size();
  out.reserve(out.size() + payload.size() + id.size() + 32);
  out.append(body);
  if (!empty_object) out.push_back(',');
  out.append(R"("id":)");
  append_json_string(out, id);
  fmt::format_to(std::back_inserter(out), R"(,"ts":{}}})", ts_ms);
  return true;
}

}  // namespace chatd
