// The hand-over channel (worker/handover.h) over a real SEQPACKET socketpair: a descriptor and
// its bytes arrive together; bad sends are refused; messages without a descriptor are dropped.

#include "worker/handover.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace chatd {
namespace {

struct channel_fixture {
  uv_loop_t loop{};
  int sv[2] = {-1, -1};
  std::vector<std::pair<int, std::string>> got;

  channel_fixture() {
    uv_loop_init(&loop);
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  }
  ~channel_fixture() {
    for (auto& [fd, bytes] : got) ::close(fd);
    uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks
    uv_loop_close(&loop);
    ::close(sv[0]);
    ::close(sv[1]);
  }
  handover::receive_fn receiver() {
    return [this](int fd, std::string bytes) { got.emplace_back(fd, std::move(bytes)); };
  }
  // The channel's poll handle is unref'd (it must not keep a worker alive): an idle handle keeps
  // the loop turning while the test waits.
  void pump() {
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, [](uv_idle_t*) {});
    for (int i = 0; i < 50 && got.empty(); ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      if (got.empty()) usleep(1000);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
};

}  // namespace

TEST_CASE("handover: a descriptor and its bytes arrive together") {
  channel_fixture f;
  handover h(&f.loop, f.sv[0], {f.sv[1]}, f.receiver());
  REQUIRE(h.start() == 0);
  int p[2];
  REQUIRE(pipe(p) == 0);
  std::string request = "GET /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n\r\n";
  CHECK(h.send(0, p[1], request) == 0);
  ::close(p[1]);  // the copy in flight keeps the pipe open
  f.pump();
  REQUIRE(f.got.size() == 1);
  CHECK(f.got[0].second == request);
  REQUIRE(::write(f.got[0].first, "z", 1) == 1);
  char c = 0;
  CHECK(::read(p[0], &c, 1) == 1);
  CHECK(c == 'z');
  ::close(p[0]);
  h.stop();
}

TEST_CASE("handover: an unknown slot, no bytes or too many bytes are refused") {
  channel_fixture f;
  handover h(&f.loop, f.sv[0], {f.sv[1]}, f.receiver());
  CHECK_FALSE(h.can_send(1));
  CHECK(h.send(1, 0, "x") == -EINVAL);
  CHECK(h.send(0, 0, "") == -EINVAL);
  CHECK(h.send(0, 0, std::string(handover::k_max_bytes + 1, 'x')) == -EMSGSIZE);
}

TEST_CASE("handover: a message without a descriptor is dropped, the next one still arrives") {
  channel_fixture f;
  handover h(&f.loop, f.sv[0], {f.sv[1]}, f.receiver());
  REQUIRE(h.start() == 0);
  REQUIRE(::send(f.sv[1], "stray", 5, 0) == 5);
  int p[2];
  REQUIRE(pipe(p) == 0);
  CHECK(h.send(0, p[0], "real") == 0);
  f.pump();
  REQUIRE(f.got.size() == 1);
  CHECK(f.got[0].second == "real");
  ::close(p[0]);
  ::close(p[1]);
  h.stop();
}

TEST_CASE("handover: a stopped channel receives nothing; its messages wait for the next reader") {
  channel_fixture f;
  int p[2];
  REQUIRE(pipe(p) == 0);
  {
    handover first(&f.loop, f.sv[0], {f.sv[1]}, f.receiver());
    REQUIRE(first.start() == 0);
    first.stop();
    CHECK(first.send(0, p[0], "queued") == 0);
    f.pump();
    CHECK(f.got.empty());
  }
  handover next(&f.loop, f.sv[0], {f.sv[1]}, f.receiver());
  REQUIRE(next.start() == 0);
  f.pump();
  REQUIRE(f.got.size() == 1);
  CHECK(f.got[0].second == "queued");
  ::close(p[0]);
  ::close(p[1]);
  next.stop();
}

}  // namespace chatd
