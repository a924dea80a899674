// HTTP on a client connection: requests parsed by Beast's parser fed from libuv reads, routed to
// the Engine.IO endpoint (/socket.io/), /healthz, /metrics, or answered 404. A successful
// WebSocket handshake switches the connection to frames and starts its Engine.IO session.

#include "common/engineio.h"
#include "common/log.h"
#include "common/url_query.h"
#include "worker/connection.h"
#include "worker/demo_page.h"
#include "worker/http_response.h"
#include "worker/http_state.h"
#include "worker/metrics.h"
#include "worker/server.h"
#include "worker/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include <fmt/format.h>

#include <strings.h>

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

using request = http::request<http::string_body>;

}  // namespace

struct http_handler {
  static void drain(connection& c);
  static void handle(connection& c, request& req);
  static void engineio(connection& c, request& req, std::string_view query);
  static void respond(connection& c, int status, std::string_view type, std::string_view body,
                      bool keep_alive, std::string_view extra = {});
  static void eio_error(connection& c, eio::error_code code, bool upgrade, bool keep_alive);
};

void connection::on_http_data(char* data, size_t len) {
  if (!http_) http_ = std::make_unique<http_state>();
  http_->buf.append(data, len);
  http_handler::drain(*this);
}

void http_handler::drain(connection& c) {
  const config& cfg = c.srv_.cfg();
  while (!c.closing() && c.phase_ == connection::phase::http && c.http_ && !c.http_->buf.empty()) {
    http_state& st = *c.http_;
    if (!st.parser) {
      st.parser.emplace();
      st.parser->header_limit(cfg.max_header_size);
      st.parser->body_limit(cfg.max_payload);
      st.parser->eager(true);
    }
    boost::beast::error_code ec;
    size_t used = st.parser->put(boost::asio::buffer(st.buf.data(), st.buf.size()), ec);
    st.buf.erase(0, used);
    if (ec == http::error::need_more) {
      if (used == 0) break;
      continue;
    }
    if (ec) {
      int status = 400;
      if (ec == http::error::header_limit) status = 431;
      if (ec == http::error::body_limit) status = 413;
      log::debug("bad HTTP request: {}", ec.message());
      respond(c, status, "text/plain", http_reason(status), false);
      return;
    }
    if (!st.parser->is_done()) continue;
    request req = st.parser->release();
    st.parser.reset();
    handle(c, req);
    if (c.phase_ == connection::phase::websocket) {
      // Bytes after the handshake are already WebSocket frames.
      std::string rest = std::move(c.http_->buf);
      c.http_.reset();
      if (!rest.empty()) c.feed_websocket(rest.data(), rest.size());
      return;
    }
  }
  if (c.http_ && c.http_->idle()) c.http_.reset();  // keep-alive clients hold nothing between requests
}

void http_handler::respond(connection& c, int status, std::string_view type, std::string_view body,
                           bool keep_alive, std::string_view extra) {
  c.send(make_bytes(http_response(status, type, body, keep_alive, extra)));
  if (!keep_alive) c.close_after_flush();
}

void http_handler::handle(connection& c, request& req) {
  auto [path, query] = split_target(req.target());
  bool keep_alive = req.keep_alive();
  // engine.io matches the "/socket.io/" prefix; "/socket.io" alone is some other path.
  if (path == "/socket.io/") {
    engineio(c, req, query);
    return;
  }
  bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz") {
    if (!get) return respond(c, 405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    std::string body = render_health(c.srv_.segment(), c.srv_.stats(), c.srv_.slot());
    return respond(c, 200, "application/json", body, keep_alive, "Cache-Control: no-store\r\n");
  }
  if (path == "/metrics") {
    if (!get) return respond(c, 405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    if (c.srv_.segment() == nullptr) return respond(c, 503, "text/plain", "no stats segment", keep_alive);
    std::string body = render_metrics(*c.srv_.segment());
    return respond(c, 200, "text/plain; version=0.0.4", body, keep_alive);
  }
  if (path == "/" || path == "/index.html") {
    if (!get) return respond(c, 405, "text/plain", "Method Not Allowed", keep_alive, "Allow: GET\r\n");
    return respond(c, 200, "text/html; charset=utf-8", demo_page(), keep_alive);
  }
  respond(c, 404, "text/plain", "Not Found", keep_alive);
}

void http_handler::eio_error(connection& c, eio::error_code code, bool upgrade, bool keep_alive) {
  if (upgrade) {
    // As engine.io's abortUpgrade: a plain-text 400 and the connection closed.
    std::string_view msg = eio::error_message(code);
    std::string out = fmt::format(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n"
        "Content-Length: {}\r\n\r\n{}",
        msg.size(), msg);
    c.send(make_bytes(std::move(out)));
    c.close_after_flush();
    return;
  }
  respond(c, eio::error_http_status(code), "application/json", eio::error_body(code), keep_alive);
}

void http_handler::engineio(connection& c, request& req, std::string_view query_text) {
  const config& cfg = c.srv_.cfg();
  bool keep_alive = req.keep_alive();
  auto upgrade_it = req.find(http::field::upgrade);
  bool upgrade = upgrade_it != req.end() && header_has_token(upgrade_it->value(), "websocket");
  url_query q = parse_url_query(query_text);

  const std::string* transport = q.get("transport");
  // Long-polling is not served yet: only "websocket" is an allowed transport.
  if (transport == nullptr || *transport != "websocket") {
    return eio_error(c, eio::error_code::transport_unknown, upgrade, keep_alive);
  }
  if (q.get("sid") != nullptr) {
    return eio_error(c, eio::error_code::session_id_unknown, upgrade, keep_alive);
  }
  if (req.method() != http::verb::get) {
    return eio_error(c, eio::error_code::bad_handshake_method, upgrade, keep_alive);
  }
  const std::string* eio_version = q.get("EIO");
  if (eio_version == nullptr || *eio_version != "4") {
    return eio_error(c, eio::error_code::unsupported_protocol_version, upgrade, keep_alive);
  }
  if (!upgrade) {
    return eio_error(c, eio::error_code::bad_request, false, keep_alive);
  }
  auto conn_it = req.find(http::field::connection);
  auto key_it = req.find(http::field::sec_websocket_key);
  auto version_it = req.find(http::field::sec_websocket_version);
  if (conn_it == req.end() || !header_has_token(conn_it->value(), "upgrade") ||
      key_it == req.end() || key_it->value().empty()) {
    return eio_error(c, eio::error_code::bad_request, true, false);
  }
  if (version_it == req.end() || version_it->value() != "13") {
    c.send(make_bytes(http_response(426, "text/plain", "Upgrade Required", false,
                                    "Sec-WebSocket-Version: 13\r\n")));
    c.close_after_flush();
    return;
  }

  std::string accept = ws::accept_key(key_it->value());
  c.send(make_bytes(fmt::format(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: {}\r\n\r\n",
      accept)));
  c.phase_ = connection::phase::websocket;
  c.ws_ = std::make_unique<ws::frame_parser>(cfg.max_payload);

  const std::string* channel = q.get("channel");
  bool has_channel = channel != nullptr && !channel->empty();
  c.session_ = new session(c.srv_, c, q.to_json(), has_channel ? *channel : std::string(),
                           has_channel);
  c.session_->open();
}

}  // namespace chatd
