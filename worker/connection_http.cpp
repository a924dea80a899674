// HTTP on a client connection: requests parsed by Beast's parser fed from libuv reads and handed
// to the router (worker/http_router.h) one by one, in order; a held long-polling GET is answered
// before the requests behind it are read; a request naming a session of another worker slot
// moves, with its connection, to that worker as soon as its head is read.

#include "common/log.h"
#include "worker/connection.h"
#include "worker/http_response.h"
#include "worker/http_router.h"
#include "worker/http_state.h"
#include "worker/server.h"
#include "worker/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <optional>

namespace chatd {

namespace http = boost::beast::http;

void connection::on_http_data(char* data, size_t len) {
  if (!http_) http_ = std::make_unique<http_state>();
  http_->buf.append(data, len);
  drain_http();
}

void connection::drain_http() {
  const config& cfg = srv_.cfg();
  while (!closing() && phase_ == phase::http && http_ && !http_->buf.empty()) {
    if (poll_ != nullptr || deferred_ || handover_slot_ >= 0) {
      // A held GET is answered first (HTTP/1.1 answers in order); the rest waits for it.
      resume_http_ = true;
      return;
    }
    http_state& st = *http_;
    if (!st.parser) {
      st.parser.emplace();
      st.parser->header_limit(cfg.max_header_size);
      st.parser->body_limit(cfg.max_payload);
      st.parser->eager(true);
      st.held = 0;
      st.routed = false;
    }
    boost::beast::error_code ec;
    size_t used = st.parser->put(
        boost::asio::buffer(st.buf.data() + st.held, st.buf.size() - st.held), ec);
    if (st.routed) {
      st.buf.erase(0, used);
    } else {
      st.held += used;
    }
    if ((!ec || ec == http::error::need_more) && !st.routed && st.parser->is_header_done()) {
      // Beast holds the request line and the fields to header_limit separately, so a head read
      // in one piece could reach twice max_header_size: the whole head is held to it here.
      const size_t head_end = std::string_view(st.buf.data(), st.held).find("\r\n\r\n");
      if (head_end != std::string_view::npos && head_end + 4 > cfg.max_header_size) {
        log::debug("bad HTTP request: head of {} bytes over max_header_size", head_end + 4);
        respond(431, "text/plain", http_reason(431), false);
        return;
      }
      st.routed = true;
      served_ = true;
      disarm_head_deadline();
      if (std::optional<unsigned> slot = foreign_slot(srv_, st.parser->get())) {
        handover_slot_ = static_cast<int>(*slot);
        uv_read_stop(stream());
        // Answers still queued go out first; the flush that empties the queue hands over.
        if (out_head_ == out_.size() && !writing_) do_handover();
        return;
      }
      st.buf.erase(0, st.held);
      st.held = 0;
    }
    if (ec == http::error::need_more) {
      if (used == 0) break;
      continue;
    }
    if (ec) {
      int status = 400;
      if (ec == http::error::header_limit) status = 431;
      if (ec == http::error::body_limit) status = 413;
      log::debug("bad HTTP request: {}", ec.message());
      respond(status, "text/plain", http_reason(status), false);
      return;
    }
    if (!st.parser->is_done()) continue;
    request req = st.parser->release();
    st.parser.reset();
    route_request(*this, req);
    if (phase_ == phase::websocket) {
      // Bytes after the handshake are already WebSocket frames.
      std::string rest = std::move(http_->buf);
      http_.reset();
      if (!rest.empty()) feed_websocket(rest.data(), rest.size());
      return;
    }
  }
  if (http_ && http_->idle()) http_.reset();  // keep-alive clients hold nothing between requests
}

void connection::do_handover() {
  unsigned slot = static_cast<unsigned>(handover_slot_);
  handover_slot_ = -1;
  std::string_view bytes = http_ ? std::string_view(http_->buf) : std::string_view();
  if (srv_.hand_over(*this, slot, bytes)) {
    // The socket lives on in the owner: close only our descriptor, no FIN, no linger.
    phase_ = phase::closing;
    srv_.close_soon(*this);
    return;
  }
  respond(503, "text/plain", "Service Unavailable", false);
}

void connection::respond(int status, std::string_view type, std::string_view body, bool keep_alive,
                         std::string_view extra) {
  respond(http_response(status, type, body, keep_alive, extra), keep_alive);
}

void connection::respond(std::string response, bool keep_alive) {
  send(make_bytes(std::move(response)));
  if (!keep_alive) return close_after_flush();
  arm_head_deadline();  // the next request's head, in time
}

void connection::answer_poll(std::string_view payload) {
  poll_ = nullptr;
  if (closing()) return;
  send(make_bytes(http_response(200, "text/plain; charset=UTF-8", payload, poll_keep_alive_,
                                poll_headers_)));
  poll_headers_.clear();
  if (!poll_keep_alive_) {
    close_after_flush();
    return;
  }
  arm_head_deadline();
  if (http_ && !http_->buf.empty()) resume_http_ = true;
}

void connection::accept_websocket() {
  disarm_head_deadline();  // engineio.connect_timeout takes over
  phase_ = phase::websocket;
  ws_ = std::make_unique<ws::frame_parser>(srv_.cfg().max_payload);
}

std::shared_ptr<deferred_reply> connection::defer_reply(bool keep_alive) {
  deferred_ = std::make_shared<deferred_reply>();
  deferred_->conn = this;
  deferred_->keep_alive = keep_alive;
  return deferred_;
}

void deferred_reply::respond(int status, std::string_view type, std::string_view body,
                             std::string_view extra) {
  connection* c = conn;
  if (c == nullptr) return;  // the client went away meanwhile
  conn = nullptr;
  std::shared_ptr<deferred_reply> self = std::move(c->deferred_);  // keeps us alive to the end
  if (c->closing()) return;
  c->respond(status, type, body, keep_alive, extra);
  if (keep_alive && c->http_ && !c->http_->buf.empty()) c->resume_http_ = true;
}

void connection::hold_poll(poll_transport& p, bool keep_alive, std::string headers) {
  poll_ = &p;
  poll_keep_alive_ = keep_alive;
  poll_headers_ = std::move(headers);
}

}  // namespace chatd
