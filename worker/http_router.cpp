// HTTP routing of one worker: the Engine.IO endpoint (/socket.io/: handshakes, long-polling,
// the WebSocket upgrade; and the raw echo one at engineio.echo_path), /healthz, /metrics,
// /presence, the demo page, the socket.io-client bundle (/socket.io/socket.io.min.js and the
// rest), or 404. It works on a connection through its narrow HTTP API (respond, send,
// accept_websocket, hold_poll, carry).

#include "worker/http_router.h"

#include "common/engineio.h"
#include "common/log.h"
#include "common/node_headers.h"
#include "common/url_query.h"
#include "worker/client_bundle.h"
#include "worker/connection.h"
#include "worker/demo_page.h"
#include "worker/http_response.h"
#include "worker/metrics.h"
#include "worker/presence.h"
#include "worker/server.h"
#include "worker/session.h"

#include <boost/beast/http/field.hpp>

#include <fmt/format.h>

#include <strings.h>

#include <chrono>

namespace chatd {

namespace http = boost::beast::http;

namespace {

bool header_has_token(std::string_view value, std::string_view token) {
  // Comma-separated, case-insensitive token lists (Connection: keep-alive, Upgrade).
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t end = value.find(',', pos);
    if (end == std::string_view::npos) end = value.size();
    std::string_view t = value.substr(pos, end - pos);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.size() == token.size() && strncasecmp(t.data(), token.data(), t.size()) == 0) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

namespace {

// The Engine.IO endpoints: /socket.io/ and, when configured, the raw echo one.
bool engineio_path(const config& cfg, std::string_view path) {
  return path == "/socket.io/" || (!cfg.echo_path.empty() && path == cfg.echo_path);
}

}  // namespace

std::optional<unsigned> foreign_slot(server& srv, const request& req) {
  auto [path, query] = split_target(req.target());
  if (!engineio_path(srv.cfg(), path)) return std::nullopt;
  url_query q = parse_url_query(query);
  const std::string* sid = q.get("sid");
  if (sid == nullptr) return std::nullopt;
  std::optional<unsigned> slot = eio::sid_slot(*sid);
  if (!slot || *slot == srv.slot() || !srv.can_hand_over(*slot)) return std::nullopt;
  return slot;
}

namespace {

bool origin_listed(const config& cfg, std::string_view origin) {
  for (const std::string& o : cfg.allowed_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

// A WebSocket handshake is refused when its Origin is not listed (cross-site WebSocket
// hijacking: browsers apply no CORS to WebSockets). No list: every origin; no Origin header (a
// non-browser client): allowed.
bool websocket_origin_allowed(const config& cfg, const request& req) {
  if (cfg.allowed_origins.empty()) return true;
  auto it = req.find(http::field::origin);
  return it == req.end() || origin_listed(cfg, it->value());
}

// CORS as the npm `cors` middleware engine.io (and socket.io, for its client files) uses, for
// the configured origins: nothing when the request's Origin is not one of them.
std::string cors_headers(const config& cfg, const request& req) {
  if (cfg.allowed_origins.empty()) return {};
  auto it = req.find(http::field::origin);
  if (it == req.end()) return {};
  std::string_view origin = it->value();
  if (!origin_listed(cfg, origin)) return {};
  return fmt::format("Access-Control-Allow-Origin: {}\r\nAccess-Control-Allow-Credentials: true\r\n"
                     "Vary: Origin\r\n", origin);
}

// CORS and no-store, for every Engine.IO answer.
std::string eio_headers(const config& cfg, const request& req) {
  return "Cache-Control: no-store\r\n" + cors_headers(cfg, req);
}

// The answer to a GET, or to a HEAD its head alone (same Content-Length, no body).
void respond_get(connection& c, const request& req, int status, std::string_view type,
                 std::string_view body, bool keep_alive, std::string_view headers = {}) {
  if (req.method() == http::verb::head) {
    return c.respond(http_head(status, type, body.size(), keep_alive, headers), keep_alive);
  }
  c.respond(status, type, body, keep_alive, headers);
}

// A socket.io-client file (worker/client_bundle.h), with CORS as socket.io adds it.
void serve_client_file(connection& c, const request& req, const client_file_answer& a, bool keep_alive) {
  std::string headers = a.headers + cors_headers(c.owner().cfg(), req);
  if (a.status == 304) return c.respond(http_head(304, {}, std::nullopt, keep_alive, headers), keep_alive);
  respond_get(c, req, a.status, a.type, a.body, keep_alive, headers);
}

}  // namespace

// This file's steps, in engine.io's order (handshake, polling, upgrade); file-local in use.
void engineio(connection& c, request& req, std::string_view query, bool raw_echo);
handshake_record handshake_of(connection& c, const request& req);
void polling(connection& c, request& req, session* s, const url_query& q, const std::string& extra);
bool ws_accept(connection& c, request& req);
void eio_error(connection& c, eio::error_code code, bool upgrade, bool keep_alive,
               std::string_view extra = {});

void route_request(connection& c, request& req) {
  auto [path, query] = split_target(req.target());
  bool keep_alive = req.keep_alive();
  // engine.io matches the "/socket.io/" prefix; "/socket.io" alone is some other path.
  if (engineio_path(c.owner().cfg(), path)) {
    engineio(c, req, query, /*raw_echo=*/path != "/socket.io/");
    return;
  }
  bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz") {
    if (!get) return c.respond(405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    std::string body = render_health(c.owner().segment(), c.owner().stats(), c.owner().slot());
    return c.respond(200, "application/json", body, keep_alive, "Cache-Control: no-store\r\n");
  }
  if (path == "/metrics") {
    if (!get) return c.respond(405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    if (c.owner().segment() == nullptr) return c.respond(503, "text/plain", "no stats segment", keep_alive);
    std::string body = render_metrics(*c.owner().segment());
    return c.respond(200, "text/plain; version=0.0.4", body, keep_alive);
  }
  if (path == "/presence") return presence_route(c, query, get, keep_alive);
  auto inm = req.find(http::field::if_none_match);
  if (auto a = client_file_request(embedded_client_bundle(), path, get,
                                   inm == req.end() ? std::string_view() : inm->value())) {
    return serve_client_file(c, req, *a, keep_alive);
  }
  if (path == "/" || path == "/index.html") {
    if (!get) return c.respond(405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    return respond_get(c, req, 200, "text/html; charset=utf-8", demo_page(), keep_alive);
  }
  c.respond(404, "text/plain", "Not Found", keep_alive);
}

void eio_error(connection& c, eio::error_code code, bool upgrade, bool keep_alive,
                             std::string_view extra) {
  if (upgrade) {
    // As engine.io's abortUpgrade: a plain-text 400 and the connection closed.
    std::string_view msg = eio::error_message(code);
    std::string out = fmt::format(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n"
        "Content-Length: {}\r\n\r\n{}",
        msg.size(), msg);
    c.send(make_bytes(std::move(out)));
    c.close_gracefully();
    return;
  }
  c.respond(eio::error_http_status(code), "application/json", eio::error_body(code), keep_alive,
          extra);
}

bool ws_accept(connection& c, request& req) {
  auto conn_it = req.find(http::field::connection);
  auto key_it = req.find(http::field::sec_websocket_key);
  auto version_it = req.find(http::field::sec_websocket_version);
  if (conn_it == req.end() || !header_has_token(conn_it->value(), "upgrade") ||
      key_it == req.end() || key_it->value().empty()) {
    eio_error(c, eio::error_code::bad_request, true, false);
    return false;
  }
  if (version_it == req.end() || version_it->value() != "13") {
    c.send(make_bytes(http_response(426, "text/plain", "Upgrade Required", false,
                                    "Sec-WebSocket-Version: 13\r\n")));
    c.close_gracefully();
    return false;
  }
  std::string accept = ws::accept_key(key_it->value());
  c.send(make_bytes(fmt::format(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: {}\r\n\r\n",
      accept)));
  c.accept_websocket();
  return true;
}

void engineio(connection& c, request& req, std::string_view query_text, bool raw_echo) {
  const config& cfg = c.owner().cfg();
  bool keep_alive = req.keep_alive();
  auto upgrade_it = req.find(http::field::upgrade);
  bool upgrade = upgrade_it != req.end() && header_has_token(upgrade_it->value(), "websocket");
  url_query q = parse_url_query(query_text);
  std::string extra = eio_headers(cfg, req);

  if (req.method() == http::verb::options && !cfg.allowed_origins.empty()) {
    // CORS preflight, answered for every Engine.IO path as the cors middleware does.
    std::string pre = extra;
    pre += "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n";
    if (auto h = req.find(http::field::access_control_request_headers); h != req.end()) {
      pre += fmt::format("Access-Control-Allow-Headers: {}\r\nVary: Access-Control-Request-Headers\r\n",
                         std::string_view(h->value()));
    }
    return c.respond(204, "text/plain", "", keep_alive, pre);
  }

  const std::string* transport = q.get("transport");
  if (transport == nullptr || (*transport != "websocket" && *transport != "polling")) {
    return eio_error(c, eio::error_code::transport_unknown, upgrade, keep_alive, extra);
  }
  bool ws = *transport == "websocket";
  if (ws && !websocket_origin_allowed(cfg, req)) {
    // As engine.io's allowRequest refusal (its order: transport, origin, sid): 403, code 4.
    c.owner().stats().origin_refused_total.fetch_add(1, std::memory_order_relaxed);
    return c.respond(eio::error_http_status(eio::error_code::forbidden), "application/json",
                     eio::error_body(eio::error_code::forbidden), false, extra);
  }
  if (const std::string* sid = q.get("sid")) {
    session* s = c.owner().find_session(*sid);
    if (s != nullptr && s->expire_if_overdue()) s = nullptr;
    if (s != nullptr && s->raw_echo() != raw_echo) s = nullptr;  // the other endpoint's session
    if (s == nullptr) return eio_error(c, eio::error_code::session_id_unknown, upgrade, keep_alive, extra);
    if (ws) {
      if (!upgrade) return eio_error(c, eio::error_code::bad_request, false, keep_alive, extra);
      if (!ws_accept(c, req)) return;
      if (!s->begin_upgrade(c)) {
        // As engine.io's onWebSocket: a WebSocket for a sid upgraded already (or opened on
        // WebSocket), or whose upgrade is under way, completes its handshake and is closed at
        // once, with ws's close(): a close frame without a status code.
        return c.close_ws(ws::close_code::no_status);
      }
      c.carry(*s);
      return;
    }
    if (!s->polling()) return eio_error(c, eio::error_code::bad_request, false, keep_alive, extra);
    return polling(c, req, s, q, extra);
  }
  if (req.method() != http::verb::get) {
    return eio_error(c, eio::error_code::bad_handshake_method, upgrade, keep_alive, extra);
  }
  const std::string* eio_version = q.get("EIO");
  if (eio_version == nullptr || *eio_version != "4") {
    return eio_error(c, eio::error_code::unsupported_protocol_version, upgrade, keep_alive, extra);
  }
  if (ws && !upgrade) {
    return eio_error(c, eio::error_code::bad_request, false, keep_alive, extra);
  }
  if (ws && !ws_accept(c, req)) return;

  const std::string* channel = q.get("channel");
  bool has_channel = channel != nullptr && !channel->empty();
  session& s = session::create(c.owner().session_ctx(), ws ? &c : nullptr, q.to_json(),
                               has_channel ? *channel : std::string(), has_channel,
                               handshake_of(c, req), raw_echo);
  if (ws) c.carry(s);
  if (!ws) polling(c, req, &s, q, extra);
}

handshake_record handshake_of(connection& c, const request& req) {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  fields.reserve(16);
  for (const auto& f : req) fields.emplace_back(f.name_string(), f.value());
  handshake_record hs;
  hs.set(node_headers_json(fields), std::string_view(req.target()));
  hs.address = c.peer_address();
  hs.issued_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  hs.xdomain = req.find(http::field::origin) != req.end();
  return hs;
}

void polling(connection& c, request& req, session* s, const url_query& q,
                           const std::string& extra) {
  bool keep_alive = req.keep_alive();
  if (req.method() == http::verb::get) {
    poll_transport* p = s->attach_poll(c);
    if (p == nullptr) return eio_error(c, eio::error_code::bad_request, false, keep_alive, extra);
    c.hold_poll(*p, keep_alive, extra);
    return;
  }
  if (req.method() == http::verb::post) {
    auto type = req.find(http::field::content_type);
    if (type != req.end() && type->value().starts_with("application/octet-stream")) {
      // Engine.IO v4 sends binary as base64 text: a binary body is a v3 client or a forgery.
      return eio_error(c, eio::error_code::bad_request, false, keep_alive, extra);
    }
    s->on_poll_data(req.body());
    return c.respond(200, "text/html", "ok", keep_alive, extra);
  }
  (void)q;
  c.respond(500, "text/plain", "Internal Server Error", keep_alive, extra);
}

}  // namespace chatd
