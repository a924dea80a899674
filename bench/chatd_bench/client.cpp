// chatd-bench's client state machine: handshake, heartbeat, sending and receiving.

#include "bench/chatd_bench/client.h"

#include "common/base64.h"
#include "common/engineio.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace chatd::bench {

namespace {

// A server's handshake answer larger than this is not one we want to read.
constexpr size_t max_response_head = 16 * 1024;
// Largest WebSocket message accepted from the server.
constexpr size_t max_server_message = 64 * 1024 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view phase_name(client::state s) {
  switch (s) {
    case client::state::tcp_connecting:
      return "tcp connect";
    case client::state::upgrading:
      return "websocket upgrade";
    case client::state::eio_opening:
      return "engine.io open";
    case client::state::sio_connecting:
      return "socket.io connect";
    default:
      return "handshake";
  }
}

}  // namespace

uint32_t client_context::random32() {
  // xorshift64*: cheap, and masks need no cryptographic quality for a load generator.
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return static_cast<uint32_t>((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

struct client::write_req {
  uv_write_t req{};
  client* owner = nullptr;
  std::string data;
};

client::client(client_context& ctx, uint32_t index, uint32_t room, const target& to,
               const sockaddr_storage* from)
    : ctx_(ctx), to_(to), from_(from), frames_(max_server_message, ws::role::client), index_(index), room_(room) {}

void client::start(uint64_t now_us) {
  if (state_ != state::idle) return;
  deadline_us_ = now_us + uint64_t{ctx_.opts->connect_timeout_ms} * 1000;
  state_ = state::tcp_connecting;
  int rc = uv_tcp_init_ex(ctx_.loop, &tcp_, to_.addr.ss_family);
  if (rc != 0) {
    state_ = state::closed;
    ctx_.owner->on_connect_failed(*this, fmt::format("socket: {}", uv_err_name(rc)));
    return;
  }
  handle_open_ = true;
  tcp_.data = this;
  uv_tcp_nodelay(&tcp_, 1);
  if (from_ != nullptr) {
    // Let connect() pick the port for the whole 4-tuple: with a plain bind() every source
    // address would be limited to one ephemeral range over all targets.
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    rc = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(from_), 0);
    if (rc != 0) {
      fail(fmt::format("bind: {}", uv_err_name(rc)));
      return;
    }
  }
  connect_req_.data = this;
  rc = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&to_.addr),
                      on_tcp_connect);
  if (rc != 0) fail(fmt::format("tcp connect: {}", uv_err_name(rc)));
}

void client::check_timeout(uint64_t now_us) {
  if (handshaking() && now_us >= deadline_us_) {
    fail(fmt::format("timeout in {}", phase_name(state_)));
  }
}

void client::on_tcp_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<client*>(req->data);
  if (status == UV_ECANCELED || c->state_ != state::tcp_connecting) return;
  if (status != 0) {
    c->fail(fmt::format("tcp connect: {}", uv_err_name(status)));
    return;
  }
  c->state_ = state::upgrading;
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), on_alloc, on_read);
  if (rc != 0) {
    c->fail(fmt::format("read: {}", uv_err_name(rc)));
    return;
  }
  c->send_upgrade_request();
}

void client::send_upgrade_request() {
  char raw[16];
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = ctx_.random32();
    std::memcpy(raw + i, &r, 4);
  }
  const std::string key = base64::encode(std::string_view(raw, sizeof raw));
  const options& o = *ctx_.opts;
  std::string req = fmt::format(
      "GET {}?EIO=4&transport=websocket&channel={}-{}&userId=u{} HTTP/1.1\r\n"
      "Host: {}\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: {}\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n",
      o.path, o.room_prefix, room_, index_, to_.host_header, key);
  // The answer must carry this; kept until the response head is read.
  handshake_ = ws::accept_key(key);
  write_raw(req);
}

void client::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<client*>(h->data);
  *buf = uv_buf_init(c->ctx_.read_buffer, static_cast<unsigned>(c->ctx_.read_buffer_size));
}

void client::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<client*>(s->data);
  if (nread > 0) {
    c->on_bytes(std::span<char>(buf->base, static_cast<size_t>(nread)));
  } else if (nread == UV_EOF) {
    c->fail("closed by the server");
  } else if (nread < 0) {
    c->fail(fmt::format("read: {}", uv_err_name(static_cast<int>(nread))));
  }
}

void client::on_bytes(std::span<char> data) {
  if (state_ == state::upgrading) {
    on_handshake_bytes(std::string_view(data.data(), data.size()));
    return;
  }
  if (state_ == state::closing || state_ == state::closed) return;
  if (uint16_t code = frames_.feed(data, *this); code != 0) {
    fail(fmt::format("websocket: bad frame from the server (close code {})", code));
  }
}

void client::on_handshake_bytes(std::string_view data) {
  constexpr size_t accept_size = 28;  // base64 of a SHA-1
  handshake_.append(data);
  std::string_view head(handshake_);
  head.remove_prefix(accept_size);
  size_t end = head.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (head.size() > max_response_head) fail("http: response head too long");
    return;
  }
  std::string_view status_line = head.substr(0, head.find("\r\n"));
  int status = 0;
  if (status_line.size() >= 12 && status_line.starts_with("HTTP/1.")) {
    std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  }
  if (status != 101) {
    fail(fmt::format("http: status {}", status));
    return;
  }
  bool accepted = false;
  std::string_view expected = std::string_view(handshake_).substr(0, accept_size);
  for (size_t pos = status_line.size() + 2; pos < end;) {
    size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (iequals(trim(line.substr(0, colon)), "sec-websocket-accept")) {
      accepted = trim(line.substr(colon + 1)) == expected;
    }
  }
  if (!accepted) {
    fail("websocket: missing or wrong Sec-WebSocket-Accept");
    return;
  }
  std::string rest(head.substr(end + 4));
  handshake_.clear();
  handshake_.shrink_to_fit();
  state_ = state::eio_opening;
  if (!rest.empty()) on_bytes(std::span<char>(rest));
}

bool client::on_message(ws::opcode op, std::string_view payload) {
  if (op != ws::opcode::text) return true;  // binary attachments: not part of this benchmark
  on_engineio(payload);
  return state_ != state::closing && state_ != state::closed;
}

bool client::on_ping(std::string_view payload) {
  write_frame(ws::opcode::pong, payload);
  return true;
}

bool client::on_pong(std::string_view) { return true; }

bool client::on_close(uint16_t code, std::string_view reason) {
  fail(fmt::format("websocket close {}{}{}", code, reason.empty() ? "" : " ",
                   reason.substr(0, 80)));
  return false;
}

void client::on_engineio(std::string_view p) {
  if (p.empty()) {
    fail("engine.io: empty packet");
    return;
  }
  switch (p[0]) {
    case '0':
      if (state_ == state::eio_opening) {
        state_ = state::sio_connecting;
        send_text("40");
      }
      return;
    case '2': {
      std::string pong = "3";
      pong.append(p.substr(1));
      send_text(pong);
      return;
    }
    case '1':
      fail("engine.io close packet");
      return;
    case '4':
      on_socketio(p.substr(1));
      return;
    case '3':
    case '5':
    case '6':
      return;
    default:
      fail("engine.io: unknown packet type");
  }
}

void client::on_socketio(std::string_view p) {
  if (p.empty()) {
    fail("socket.io: empty packet");
    return;
  }
  switch (p[0]) {
    case '0':
      if (state_ == state::sio_connecting) {
        state_ = state::connected;
        ctx_.owner->on_connected(*this);
      }
      return;
    case '2': {
      p.remove_prefix(1);
      while (!p.empty() && p[0] >= '0' && p[0] <= '9') p.remove_prefix(1);  // an ack id
      constexpr std::string_view chat = R"(["chat",)";
      if (p.starts_with(chat)) ctx_.owner->on_chat(*this, p.substr(chat.size()));
      return;
    }
    case '3':
      ctx_.owner->on_ack(*this);
      return;
    case '4':
      fail(fmt::format("socket.io connect_error {}", p.substr(1, 80)));
      return;
    case '1':
      fail("socket.io disconnect");
      return;
    default:
      return;
  }
}

void client::send_text(std::string_view packet) {
  if (state_ != state::connected && state_ != state::sio_connecting &&
      state_ != state::eio_opening) {
    return;
  }
  write_frame(ws::opcode::text, packet);
}

void client::write_frame(ws::opcode op, std::string_view payload) {
  thread_local std::string frame;
  frame.clear();
  ws::append_masked_frame(frame, op, payload, ctx_.random32());
  write_raw(frame);
}

void client::write_raw(std::string_view bytes) {
  if (!handle_open_ || state_ == state::closing || state_ == state::closed) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  uv_buf_t buf = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  // uv_try_write refuses (UV_EAGAIN) while earlier writes are queued, so order is kept.
  int n = uv_try_write(stream, &buf, 1);
  if (n == static_cast<int>(bytes.size())) return;
  if (n < 0 && n != UV_EAGAIN) {
    fail(fmt::format("write: {}", uv_err_name(n)));
    return;
  }
  auto* w = new write_req;
  w->owner = this;
  w->data.assign(bytes.substr(n > 0 ? static_cast<size_t>(n) : 0));
  w->req.data = w;
  write_backlog_ += w->data.size();
  uv_buf_t rest = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, stream, &rest, 1, on_write);
  if (rc != 0) {
    write_backlog_ -= w->data.size();
    delete w;
    fail(fmt::format("write: {}", uv_err_name(rc)));
  }
}

void client::on_write(uv_write_t* req, int status) {
  auto* w = static_cast<write_req*>(req->data);
  client* c = w->owner;
  c->write_backlog_ -= w->data.size();
  delete w;
  if (status != 0 && status != UV_ECANCELED) c->fail(fmt::format("write: {}", uv_err_name(status)));
}

void client::fail(std::string reason) {
  const state was = state_;
  if (was == state::closing || was == state::closed || was == state::idle) return;
  close_handle();
  if (was == state::connected) {
    ctx_.owner->on_dropped(*this, std::move(reason));
  } else {
    ctx_.owner->on_connect_failed(*this, std::move(reason));
  }
}

void client::close() {
  if (state_ == state::connected) {
    // A polite close 1000, best effort: if the kernel will not take it now, the FIN says enough.
    static constexpr char normal[2] = {0x03, static_cast<char>(0xE8)};
    thread_local std::string frame;
    frame.clear();
    ws::append_masked_frame(frame, ws::opcode::close, std::string_view(normal, 2), ctx_.random32());
    uv_buf_t buf = uv_buf_init(frame.data(), static_cast<unsigned>(frame.size()));
    uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
  }
  if (state_ == state::idle) {
    state_ = state::closed;
    return;
  }
  close_handle();
}

void client::close_handle() {
  if (state_ == state::closing || state_ == state::closed) return;
  if (!handle_open_) {
    state_ = state::closed;
    return;
  }
  state_ = state::closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
}

void client::on_close(uv_handle_t* h) {
  auto* c = static_cast<client*>(h->data);
  c->handle_open_ = false;
  c->state_ = state::closed;
  c->ctx_.owner->on_closed(*c);
}

}  // namespace chatd::bench
