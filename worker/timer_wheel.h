#pragma once
// Timers for many sessions on one libuv timer: a hashed timing wheel. Each session embeds a
// 24-byte node instead of a 152-byte uv_timer_t, and libuv's timer heap holds one entry per
// worker instead of one per connection. A timer fires at or after its due time, at most a tick
// late (its due time is rounded up to a tick). The wheel's one libuv timer is one-shot, armed for
// the next tick whose slot holds anything: a busy worker wakes every tick, a quiet one only when
// a heartbeat is due.

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>

namespace chatd {

// Embedded in its owner; unlinked while not scheduled. Intrusive, circular with the slot's
// sentinel, so unlinking needs no reference to the list it is on.
struct timer_node {
  timer_node* prev = nullptr;
  timer_node* next = nullptr;
  uint64_t due = 0;  // loop time, ms
  bool scheduled() const { return next != nullptr; }
};

class timer_wheel {
 public:
  using fire_fn = void (*)(timer_node& node, void* ctx) noexcept;

  // Fires with `fire(node, ctx)`; the callback may schedule or cancel any node.
  timer_wheel(uv_loop_t* loop, uint64_t tick_ms, fire_fn fire, void* ctx);
  ~timer_wheel();  // the owner has called close() and let the loop run the close callback
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  // Fires `node` once, at or after `due` (loop time in ms); reschedules it if already scheduled.
  void schedule(timer_node& node, uint64_t due);
  void cancel(timer_node& node);
  size_t scheduled() const { return count_; }
  uint64_t tick_ms() const { return tick_ms_; }
  // Closes the libuv timer; nothing fires after this.
  void close();

 private:
  static constexpr size_t k_slots = 4096;  // a power of two; one turn is k_slots ticks
  static void on_tick(uv_timer_t* t) noexcept;
  void advance(uint64_t now_tick);
  uint64_t insert(timer_node& node);  // returns the node's tick
  void arm(uint64_t tick);            // one wake-up at that tick
  void rearm();                       // after a walk: at the next non-empty slot, or none
  static void unlink(timer_node& node);

  uv_loop_t* loop_;
  uint64_t tick_ms_;
  fire_fn fire_;
  void* ctx_;
  uv_timer_t timer_{};
  std::array<timer_node, k_slots> slots_{};  // sentinels
  uint64_t done_tick_ = 0;  // every tick up to this one has been walked
  size_t count_ = 0;
  uint64_t armed_tick_ = 0;  // the tick the libuv timer wakes up for; 0: not armed
  bool walking_ = false;
  bool closed_ = false;
};

}  // namespace chatd
