// The argument of a chat `history` event (see history_request.h).

#include "common/history_request.h"

#include <simdjson.h>

#include <cmath>

namespace chatd {

expected<history_request> parse_history_request(std::string_view arg_json, uint32_t max_messages) {
  history_request r;
  r.limit = max_messages;
  if (arg_json.empty() || arg_json == "null") return r;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(arg_json.data(), arg_json.size()).get(root) || !root.is_object()) {
    return unexpected(std::string("expected {room?, limit?}"));
  }
  simdjson::dom::element v;
  if (!root["room"].get(v) && !v.is_null()) {
    std::string_view room;
    if (v.get_string().get(room)) return unexpected(std::string("room: expected a string"));
    r.room.assign(room);
  }
  if (!root["limit"].get(v) && !v.is_null()) {
    double d = 0;
    if (v.get_double().get(d) || !std::isfinite(d) || d != std::floor(d) || d < 1) {
      return unexpected(std::string("limit: expected a positive integer"));
    }
    if (d < static_cast<double>(max_messages)) r.limit = static_cast<uint32_t>(d);
  }
  return r;
}

}  // namespace chatd
