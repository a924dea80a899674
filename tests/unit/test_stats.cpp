// The stats segment's whole-daemon counts: a gone worker's counts folded into the retired totals
// by retire(), read consistently by daemon_totals() while workers count and the master folds.

#include "common/stats.h"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace chatd;

namespace {

uint64_t messages(const stats_segment& seg) {
  counters total;
  seg.daemon_totals(total);
  return total.messages_in_total.load();
}

uint64_t histogram_count(const histogram<k_size_buckets>& h) {
  uint64_t n = 0;
  for (const auto& b : h.buckets) n += b.load();
  return n;
}

}  // namespace

TEST_CASE("a retired worker's counts stay in the daemon totals and its slot starts again at 0") {
  stats_segment* seg = stats_segment::create();
  REQUIRE(seg != nullptr);
  const int a = seg->claim(1001);
  const int b = seg->claim(1002);
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  seg->at(static_cast<size_t>(a)).messages_in_total += 5;
  seg->at(static_cast<size_t>(a)).message_size_bytes.observe(k_size_bounds_bytes, 100, 2);
  seg->at(static_cast<size_t>(a)).connections = 3;
  seg->at(static_cast<size_t>(b)).messages_in_total += 7;
  CHECK(messages(*seg) == 12);

  seg->retire(1001);
  CHECK(seg->at(static_cast<size_t>(a)).pid.load() == 0);
  CHECK(seg->at(static_cast<size_t>(a)).connections.load() == 0);
  CHECK(messages(*seg) == 12);
  counters total;
  seg->daemon_totals(total);
  CHECK(histogram_count(total.message_size_bytes) == 2);
  CHECK(total.message_size_bytes.sum.load() == 200);

  const int again = seg->claim(1003);
  REQUIRE(again == a);  // the first free slot: the one just freed
  CHECK(seg->at(static_cast<size_t>(again)).messages_in_total.load() == 0);
  seg->at(static_cast<size_t>(again)).messages_in_total += 1;
  CHECK(messages(*seg) == 13);
  seg->retire(4242);  // no slot: ignored
  CHECK(messages(*seg) == 13);
  munmap(seg, sizeof(stats_segment));
}

TEST_CASE("a worker killed with SIGKILL while counting: the totals keep its every count and never "
          "go down while the master folds it") {
  stats_segment* seg = stats_segment::create();
  REQUIRE(seg != nullptr);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> decreases{0};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t now = messages(*seg);
      if (now < last) ++decreases;
      last = now;
      ++reads;
    }
  });
  uint64_t expected = 0;
  for (int round = 0; round < 5; ++round) {
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const int i = seg->claim(getpid());
      if (i < 0) _exit(1);
      worker_stats& s = seg->at(static_cast<size_t>(i));
      for (;;) {
        s.messages_in_total.fetch_add(1, std::memory_order_relaxed);
        s.message_size_bytes.observe(k_size_bounds_bytes, 10);
      }
    }
    // Let it count for a while, then kill it wherever it is.
    while (messages(*seg) < expected + 1000) std::this_thread::yield();
    kill(child, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    uint64_t in_slot = 0;
    for (size_t i = 0; i < stats_segment::k_slots; ++i) {
      if (seg->at(i).pid.load() == child) in_slot = seg->at(i).messages_in_total.load();
    }
    REQUIRE(in_slot >= 1000);
    expected += in_slot;
    seg->retire(child);
    CHECK(messages(*seg) == expected);
  }
  done = true;
  reader.join();
  CHECK(decreases.load() == 0);
  CHECK(reads.load() > 0);
  counters total;
  seg->daemon_totals(total);
  // A kill between a histogram's two adds may leave its sum one value short, never its count
  // more than one observation behind the counter (one per kill).
  const uint64_t observed = histogram_count(total.message_size_bytes);
  CHECK(observed <= expected);
  CHECK(observed + 5 >= expected);
  munmap(seg, sizeof(stats_segment));
}
