// bench/chatd_bench/pacing (and generator): how many messages are due, catch-up, sender rotation,
// and how connect concurrency is shared by the processes.

#include "bench/chatd_bench/generator.h"
#include "bench/chatd_bench/pacing.h"

#include <doctest/doctest.h>

using chatd::bench::pacer;
using chatd::bench::rotation;

TEST_CASE("nothing is due before the start") {
  pacer p(1000, 1'000'000);
  CHECK(p.take_due(0, 1000) == 0);
  CHECK(p.take_due(1'000'000, 1000) == 0);
  CHECK(p.taken() == 0);
}

TEST_CASE("the total taken follows the rate") {
  pacer p(2000, 0);  // one every 500 us
  uint64_t total = 0;
  for (uint64_t t = 1000; t <= 1'000'000; t += 1000) total += p.take_due(t, 1000);
  CHECK(total == 2001);  // the first message at the start, then 2000 per second
  CHECK(p.taken() == total);
}

TEST_CASE("a late tick catches up with everything due") {
  pacer p(1000, 0);
  CHECK(p.take_due(1, 1'000'000) == 1);
  CHECK(p.take_due(500'001, 1'000'000) == 500);
}

TEST_CASE("the cap defers the rest to later ticks") {
  pacer p(1000, 0);
  CHECK(p.take_due(1'000'001, 300) == 300);
  CHECK(p.backlog(1'000'001) == 701);
  CHECK(p.take_due(1'000'001, 300) == 300);
  CHECK(p.take_due(1'000'001, 300) == 300);
  CHECK(p.take_due(1'000'001, 300) == 101);
  CHECK(p.backlog(1'000'001) == 0);
}

TEST_CASE("a rate of zero never makes anything due") {
  pacer p(0, 0);
  CHECK(p.take_due(10'000'000, 1000) == 0);
}

TEST_CASE("rotation visits every slot in turn and wraps") {
  rotation r;
  CHECK(r.next(3) == 0);
  CHECK(r.next(3) == 1);
  CHECK(r.next(3) == 2);
  CHECK(r.next(3) == 0);
}

TEST_CASE("rotation over fewer slots than before restarts inside the range") {
  rotation r;
  r.next(5);
  r.next(5);
  r.next(5);
  CHECK(r.next(2) == 0);
  CHECK(r.next(0) == 0);
}

TEST_CASE("connect concurrency is split over the processes, at least one each") {
  CHECK(chatd::bench::concurrency_share(500, 1) == 500);
  CHECK(chatd::bench::concurrency_share(500, 2) == 250);
  CHECK(chatd::bench::concurrency_share(500, 3) == 167);
  CHECK(chatd::bench::concurrency_share(2, 8) == 1);
}
