// The worker's timer wheel on a real libuv loop: timers fire at or after their due time, at most
// a tick late, in due order; cancelled and rescheduled nodes behave; the libuv timer stops when
// nothing is scheduled, so an idle worker's loop can end.

#include "worker/timer_wheel.h"

#include <doctest/doctest.h>

#include <uv.h>

#include <functional>
#include <vector>

using chatd::timer_node;
using chatd::timer_wheel;

namespace {

struct probe : timer_node {
  int id = 0;
  uint64_t fired_at = 0;
  int fired = 0;
};

struct fixture {
  uv_loop_t loop{};
  std::vector<int> order;
  timer_wheel* wheel = nullptr;
  std::function<void(probe&)> on_fire;

  static void fire(timer_node& n, void* ctx) noexcept {
    auto* f = static_cast<fixture*>(ctx);
    auto& p = static_cast<probe&>(n);
    p.fired_at = uv_now(&f->loop);
    ++p.fired;
    f->order.push_back(p.id);
    if (f->on_fire) f->on_fire(p);
  }
  fixture() { uv_loop_init(&loop); }
  ~fixture() {
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

}  // namespace

TEST_CASE("timers fire in due order, never early and at most about a tick late") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  std::vector<probe> p(5);
  const uint64_t start = uv_now(&f.loop);
  const uint64_t delays[] = {55, 5, 120, 30, 0};
  for (size_t i = 0; i < p.size(); ++i) {
    p[i].id = static_cast<int>(i);
    w.schedule(p[i], start + delays[i]);
  }
  CHECK(w.scheduled() == 5);
  uv_run(&f.loop, UV_RUN_DEFAULT);  // returns once the wheel stopped its timer: all fired
  CHECK(w.scheduled() == 0);
  CHECK(f.order == std::vector<int>{4, 1, 3, 0, 2});
  for (size_t i = 0; i < p.size(); ++i) {
    CHECK(p[i].fired == 1);
    CHECK(p[i].fired_at >= start + delays[i]);
    CHECK(p[i].fired_at <= start + delays[i] + 60);  // a tick, plus a loaded machine's slack
  }
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);  // the close callback, before the wheel goes
}

TEST_CASE("a cancelled timer never fires; a rescheduled one fires once, at its new time") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  probe a, b;
  a.id = 1;
  b.id = 2;
  const uint64_t start = uv_now(&f.loop);
  w.schedule(a, start + 20);
  w.schedule(b, start + 20);
  w.cancel(a);
  CHECK_FALSE(a.scheduled());
  w.schedule(b, start + 80);  // moved later
  w.schedule(b, start + 40);  // and earlier again
  CHECK(w.scheduled() == 1);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(a.fired == 0);
  CHECK(b.fired == 1);
  CHECK(b.fired_at >= start + 40);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);  // the close callback, before the wheel goes
}

TEST_CASE("a callback may reschedule its own node, including for a whole turn later") {
  fixture f;
  timer_wheel w(&f.loop, 1, &fixture::fire, &f);
  probe a;
  a.id = 7;
  const uint64_t start = uv_now(&f.loop);
  // 4096 ticks of 1 ms make a turn: 4096 ms lands in the slot being walked.
  f.on_fire = [&](probe& p) {
    if (p.fired == 1) w.schedule(p, p.fired_at + 4096);
    if (p.fired == 2) w.schedule(p, p.fired_at);  // already due: the next tick, not a turn later
  };
  w.schedule(a, start + 3);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(a.fired == 3);
  CHECK(uv_now(&f.loop) - start >= 4096);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);  // the close callback, before the wheel goes
}

TEST_CASE("timers due several turns ahead wait for their turn") {
  fixture f;
  timer_wheel w(&f.loop, 1, &fixture::fire, &f);
  probe far, near;
  far.id = 1;
  near.id = 2;
  const uint64_t start = uv_now(&f.loop);
  w.schedule(far, start + 4096 + 50);  // same slot as start + 50, one turn later
  w.schedule(near, start + 50);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.order == std::vector<int>{2, 1});
  CHECK(far.fired_at >= start + 4096 + 50);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);  // the close callback, before the wheel goes
}

TEST_CASE("after a stall every overdue timer fires at the first tick") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  std::vector<probe> p(3);
  const uint64_t start = uv_now(&f.loop);
  for (size_t i = 0; i < p.size(); ++i) {
    p[i].id = static_cast<int>(i);
    w.schedule(p[i], start + 10 * (i + 1));
  }
  uv_sleep(120);  // the loop is blocked past every due time
  uv_run(&f.loop, UV_RUN_ONCE);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  CHECK(f.order == std::vector<int>{0, 1, 2});
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);  // the close callback, before the wheel goes
}

TEST_CASE("closing the wheel stops it: nothing fires and the loop can end") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  probe a;
  w.schedule(a, uv_now(&f.loop) + 20);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(a.fired == 0);
}

TEST_CASE("a quiet wheel wakes the loop only when something is due, not every tick") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  // Counts loop iterations: with one wake-up per 10 ms tick, 300 ms would take ~30.
  uv_prepare_t counter;
  int iterations = 0;
  uv_prepare_init(&f.loop, &counter);
  counter.data = &iterations;
  uv_prepare_start(&counter, [](uv_prepare_t* p) { ++*static_cast<int*>(p->data); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&counter));
  probe a, b;
  a.id = 1;
  b.id = 2;
  const uint64_t start = uv_now(&f.loop);
  w.schedule(a, start + 150);
  w.schedule(b, start + 300);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.order == std::vector<int>{1, 2});
  CHECK(b.fired_at >= start + 300);
  CHECK(iterations < 10);
  uv_close(reinterpret_cast<uv_handle_t*>(&counter), nullptr);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);
}

TEST_CASE("an earlier timer scheduled while the wheel sleeps for a later one still fires on time") {
  fixture f;
  timer_wheel w(&f.loop, 10, &fixture::fire, &f);
  probe late, early;
  late.id = 1;
  early.id = 2;
  const uint64_t start = uv_now(&f.loop);
  w.schedule(late, start + 400);
  w.schedule(early, start + 30);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.order == std::vector<int>{2, 1});
  CHECK(early.fired_at <= start + 30 + 60);
  w.close();
  uv_run(&f.loop, UV_RUN_DEFAULT);
}
