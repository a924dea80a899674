// The worker's HTTP side and WebSocket handshake, driven over a real loopback socket: a server
// (the same class a worker runs) on its own loop thread, and a blocking client that writes raw
// request bytes and reads the raw answer.

#include "common/config.h"
#include "worker/server.h"
#include "tests/unit/loopback.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

using namespace chatd;

namespace {

class test_server {
 public:
  explicit test_server(config cfg = config{}) {
    log::set_level(log::level::error);
    // Redis at a port nothing listens on: the bus retries in the background, HTTP is unaffected.
    cfg.redis_url = "redis://127.0.0.1:1";
    cfg.workers = 1;
    auto v = validate_config(cfg, "<test>");
    REQUIRE(v.has_value());
    cfg_ = *v;
    fd_ = test::listen_loopback(64, port_);
    REQUIRE(fd_ >= 0);
    thread_ = std::thread([this] { run(); });
    while (!started_.load()) std::this_thread::yield();
  }
  ~test_server() {
    uv_async_send(&stop_);
    thread_.join();
    CHECK_MESSAGE(closed_ok_, "the worker loop ended with handles still open");
    log::set_level(log::level::info);
  }
  uint16_t port() const { return port_; }

 private:
  void run() {
    uv_loop_init(&loop_);
    {
      server srv(&loop_, cfg_, 0, 1, nullptr, stats_);
      int r = srv.listen(fd_);
      uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
        static_cast<server*>(a->data)->stop();
        uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
      });
      stop_.data = &srv;
      started_ = true;
      if (r == 0) uv_run(&loop_, UV_RUN_DEFAULT);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    closed_ok_ = uv_loop_close(&loop_) == 0;
  }

  config cfg_;
  int fd_ = -1;
  uint16_t port_ = 0;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  worker_stats stats_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  bool closed_ok_ = false;
};

int dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void put(int fd, std::string_view bytes) {
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

// Reads until `done(received)` says so, the peer closes, or 5 s pass.
template <class Done>
std::string read_until(int fd, Done done) {
  std::string got;
  char buf[8192];
  while (!done(got)) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// One whole HTTP response (head + Content-Length body) from the front of `s`, or "".
std::string first_response(const std::string& s) {
  size_t head_end = s.find("\r\n\r\n");
  if (head_end == std::string::npos) return {};
  size_t cl = s.find("Content-Length: ");
  size_t body = 0;
  if (cl != std::string::npos && cl < head_end) body = std::stoul(s.substr(cl + 16));
  if (s.size() < head_end + 4 + body) return {};
  return s.substr(0, head_end + 4 + body);
}

std::string request(uint16_t port, std::string_view bytes) {
  int fd = dial(port);
  put(fd, bytes);
  std::string r = read_until(fd, [](const std::string& s) { return !first_response(s).empty(); });
  close(fd);
  return r;
}

std::string get(uint16_t port, std::string_view target, std::string_view headers = {}) {
  return request(port, std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" +
                           std::string(headers) + "\r\n");
}

constexpr const char* k_ws_headers =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

}  // namespace

TEST_CASE("a WebSocket handshake gets 101 with the RFC 6455 accept key, then the open packet") {
  test_server srv;
  int fd = dial(srv.port());
  put(fd, std::string("GET /socket.io/?EIO=4&transport=websocket&channel=r1 HTTP/1.1\r\nHost: x\r\n") +
              k_ws_headers + "\r\n");
  std::string got = read_until(fd, [](const std::string& s) {
    size_t h = s.find("\r\n\r\n");
    return h != std::string::npos && s.size() > h + 4 + 2 && s.find("maxPayload") != std::string::npos;
  });
  close(fd);
  CHECK(got.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(got.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  size_t frame = got.find("\r\n\r\n") + 4;
  REQUIRE(got.size() > frame + 2);
  CHECK(static_cast<unsigned char>(got[frame]) == 0x81);  // FIN + text, unmasked
  std::string open = got.substr(frame + 2);
  CHECK(open.rfind("0{\"sid\":\"", 0) == 0);
  CHECK(open.find("\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}") !=
        std::string::npos);
}

TEST_CASE("a long-polling handshake opens a session that may upgrade to WebSocket") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=4&transport=polling&channel=r1");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.find("Content-Type: text/plain; charset=UTF-8") != std::string::npos);
  CHECK(r.find("Cache-Control: no-store") != std::string::npos);
  CHECK(r.find("\r\n\r\n0{\"sid\":\"") != std::string::npos);
  CHECK(r.find("\"upgrades\":[\"websocket\"],\"pingInterval\":25000") != std::string::npos);
}

TEST_CASE("an unknown transport is refused with code 0") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=4&transport=flash");
  CHECK(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(r.find("Content-Type: application/json") != std::string::npos);
  CHECK(r.find(R"({"code":0,"message":"Transport unknown"})") != std::string::npos);
}

TEST_CASE("EIO=3 without an upgrade is refused with code 5") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=3&transport=websocket");
  CHECK(r.find(R"({"code":5,"message":"Unsupported protocol version"})") != std::string::npos);
}

TEST_CASE("transport=websocket without an Upgrade header is a bad request, code 3") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=4&transport=websocket");
  CHECK(r.find(R"({"code":3,"message":"Bad request"})") != std::string::npos);
}

TEST_CASE("an unknown sid is refused with code 1") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA");
  CHECK(r.find(R"({"code":1,"message":"Session ID unknown"})") != std::string::npos);
}

TEST_CASE("a POST handshake is refused with code 2") {
  test_server srv;
  std::string r = request(srv.port(),
                          "POST /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: 0\r\n\r\n");
  CHECK(r.find(R"({"code":2,"message":"Bad handshake method"})") != std::string::npos);
}

TEST_CASE("a failed upgrade is answered in plain text and the connection closed, as engine.io does") {
  test_server srv;
  int fd = dial(srv.port());
  put(fd, std::string("GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\n") +
              k_ws_headers + "\r\n");
  std::string r = read_until(fd, [](const std::string&) { return false; });  // until EOF
  close(fd);
  CHECK(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(r.find("Content-type: text/html") != std::string::npos);
  CHECK(r.substr(r.size() - 28) == "Unsupported protocol version");
}

TEST_CASE("an unsupported WebSocket version gets 426 naming version 13") {
  test_server srv;
  std::string r = get(srv.port(), "/socket.io/?EIO=4&transport=websocket",
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
  CHECK(r.rfind("HTTP/1.1 426 ", 0) == 0);
  CHECK(r.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
}

TEST_CASE("other paths get 404, and /socket.io without the slash is another path") {
  test_server srv;
  CHECK(get(srv.port(), "/nope").rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(get(srv.port(), "/socket.io?EIO=4&transport=websocket").rfind("HTTP/1.1 404 ", 0) == 0);
}

TEST_CASE("pipelined keep-alive requests are each answered, in order") {
  test_server srv;
  int fd = dial(srv.port());
  put(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = read_until(fd, [](const std::string& s) {
    std::string first = first_response(s);
    return !first.empty() && !first_response(s.substr(first.size())).empty();
  });
  close(fd);
  std::string first = first_response(got);
  CHECK(first.rfind("HTTP/1.1 404 ", 0) == 0);
  std::string second = first_response(got.substr(first.size()));
  CHECK(second.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(second.find("\"status\":\"degraded\"") != std::string::npos);  // Redis is not there
}

TEST_CASE("a request head over max_header_size gets 431") {
  config cfg;
  cfg.max_header_size = 1024;
  test_server srv(cfg);
  std::string r = get(srv.port(), "/x", "X-Big: " + std::string(4000, 'a') + "\r\n");
  CHECK(r.rfind("HTTP/1.1 431 ", 0) == 0);
}

TEST_CASE("garbage instead of HTTP gets 400 and the server goes on") {
  test_server srv;
  CHECK(request(srv.port(), "\x16\x03\x01 not http\r\n\r\n").rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(get(srv.port(), "/nope").rfind("HTTP/1.1 404 ", 0) == 0);
}
