// Tests of the worker's exit codes (worker/worker.h): the one the master reads as "do not respawn".

#include "common/config.h"
#include "worker/worker.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>

using namespace chatd;

TEST_CASE("a worker whose listening socket cannot be adopted exits 2: do not respawn") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  worker_options opts;
  opts.listen_fd = p[0];  // not a socket: listen() fails with ENOTSOCK, as it would on every respawn
  opts.cfg.redis_url = "redis://127.0.0.1:1";  // nothing there: the bus is still connecting
  REQUIRE(parse_redis_url(opts.cfg.redis_url).has_value());
  opts.cfg.redis = *parse_redis_url(opts.cfg.redis_url);

  auto t0 = std::chrono::steady_clock::now();
  int code = run_worker(opts);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(code == k_exit_fatal_config);
  CHECK(code == 2);
  // It gives up at once, not after a shutdown_timeout or a Redis connect timeout.
  CHECK(took < std::chrono::milliseconds(opts.cfg.redis_connect_timeout_ms));
  close(p[0]);
  close(p[1]);
}
