// See presence.h.

#include "worker/presence.h"

#include "common/json_text.h"
#include "common/url_query.h"
#include "worker/connection.h"
#include "worker/server.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace chatd {

namespace {

// handshake.query.userId as text (absent or not a string: empty).
std::string user_id_of(const std::string& query_json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(query_json).get(root) != simdjson::SUCCESS) return {};
  std::string_view id;
  if (root["userId"].get(id) != simdjson::SUCCESS) return {};
  return std::string(id);
}

}  // namespace

std::string render_presence(std::string_view room, const adapter_node::fetch_result& r) {
  std::string out = R"({"room":)";
  append_json_string(out, room);
  out += R"(,"sockets":[)";
  for (size_t i = 0; i < r.sockets.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"id":)";
    append_json_string(out, r.sockets[i].id);
    out += R"(,"userId":)";
    append_json_string(out, user_id_of(r.sockets[i].hs.query_json));
    out += R"(,"node":)";
    append_json_string(out, i < r.node_of.size() ? r.node_of[i] : std::string());
    out += '}';
  }
  // The asking worker answered for itself whenever Redis was reachable.
  const long long answered = r.answered + 1;
  const long long missing = r.nodes > 1 ? std::max(0LL, r.nodes - 1 - r.answered) : 0;
  out += fmt::format(R"(],"nodes":{{"answered":{},"missing":[)", answered);
  for (long long i = 1; i <= missing; ++i) {
    if (i > 1) out += ',';
    out += fmt::format(R"("unanswered-{}")", i);
  }
  out += fmt::format(R"(]}},"elapsed_ms":{}}})", r.elapsed_ms);
  return out;
}

void presence_route(connection& c, std::string_view query, bool get, bool keep_alive) {
  if (!get) return c.respond(405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
  url_query q = parse_url_query(query);
  const std::string* room = q.get("room");
  if (room == nullptr || room->empty()) {
    return c.respond(400, "application/json", R"({"error":"missing room: GET /presence?room=<room>"})",
                     keep_alive);
  }
  std::shared_ptr<deferred_reply> reply = c.defer_reply(keep_alive);
  wire::room_selector sel;
  sel.rooms.push_back(*room);
  c.owner().adapter().fetch_sockets(std::move(sel), [reply, name = *room](adapter_node::fetch_result r) {
    reply->respond(200, "application/json", render_presence(name, r), "Cache-Control: no-store\r\n");
  });
}

}  // namespace chatd
