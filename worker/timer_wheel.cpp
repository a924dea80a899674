// Hashed timing wheel; see timer_wheel.h.

#include "worker/timer_wheel.h"

namespace chatd {

timer_wheel::timer_wheel(uv_loop_t* loop, uint64_t tick_ms, fire_fn fire, void* ctx)
    : loop_(loop), tick_ms_(tick_ms == 0 ? 1 : tick_ms), fire_(fire), ctx_(ctx) {
  for (timer_node& s : slots_) s.prev = s.next = &s;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  done_tick_ = uv_now(loop_) / tick_ms_;
}

timer_wheel::~timer_wheel() = default;

void timer_wheel::close() {
  if (closed_) return;
  closed_ = true;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void timer_wheel::unlink(timer_node& node) {
  node.prev->next = node.next;
  node.next->prev = node.prev;
  node.prev = node.next = nullptr;
}

uint64_t timer_wheel::insert(timer_node& node) {
  // A due time already walked past goes to the next tick, not a whole turn later.
  uint64_t tick = (node.due + tick_ms_ - 1) / tick_ms_;
  if (tick <= done_tick_) tick = done_tick_ + 1;
  timer_node& head = slots_[tick & (k_slots - 1)];
  node.next = head.next;
  node.prev = &head;
  head.next->prev = &node;
  head.next = &node;
  return tick;
}

void timer_wheel::arm(uint64_t tick) {
  armed_tick_ = tick;
  const uint64_t at = tick * tick_ms_;
  const uint64_t now = uv_now(loop_);
  uv_timer_start(&timer_, &timer_wheel::on_tick, at > now ? at - now : 0, 0);
}

void timer_wheel::rearm() {
  if (closed_) return;
  if (count_ == 0) {
    uv_timer_stop(&timer_);
    armed_tick_ = 0;
    return;
  }
  // The next slot holding anything (a node there may be due a later turn: waking for it costs a
  // re-insert). A busy worker finds one at once; a quiet one sleeps until its next heartbeat.
  for (uint64_t tick = done_tick_ + 1; tick <= done_tick_ + k_slots; ++tick) {
    const timer_node& head = slots_[tick & (k_slots - 1)];
    if (head.next != &head) return arm(tick);
  }
  arm(done_tick_ + k_slots);  // unreachable while count_ > 0; a safe wake-up regardless
}

void timer_wheel::schedule(timer_node& node, uint64_t due) {
  if (closed_) return;
  if (node.scheduled()) {
    unlink(node);
  } else {
    if (count_ == 0) {
      // Idle until now: nothing is on the wheel, so the ticks in between need no walk.
      done_tick_ = uv_now(loop_) / tick_ms_;
      armed_tick_ = 0;
    }
    ++count_;
  }
  node.due = due;
  const uint64_t tick = insert(node);
  // Inside a walk, the walk re-arms when it ends.
  if (!walking_ && (armed_tick_ == 0 || tick < armed_tick_)) arm(tick);
}

void timer_wheel::cancel(timer_node& node) {
  if (!node.scheduled()) return;
  unlink(node);
  // A wake-up armed for a slot that is now empty only finds nothing and re-arms.
  if (--count_ == 0 && !walking_) {
    uv_timer_stop(&timer_);
    armed_tick_ = 0;
  }
}

void timer_wheel::on_tick(uv_timer_t* t) noexcept {
  auto* w = static_cast<timer_wheel*>(t->data);
  w->armed_tick_ = 0;
  w->walking_ = true;
  w->advance(uv_now(w->loop_) / w->tick_ms_);
  w->walking_ = false;
  w->rearm();
}

void timer_wheel::advance(uint64_t now_tick) {
  // After a stall longer than a turn, one walk of every slot sees every node.
  if (now_tick > done_tick_ + k_slots) done_tick_ = now_tick - k_slots;
  const uint64_t now_ms = now_tick * tick_ms_;
  while (done_tick_ < now_tick && !closed_) {
    ++done_tick_;
    timer_node& head = slots_[done_tick_ & (k_slots - 1)];
    if (head.next == &head) continue;
    // Detach the slot: callbacks may schedule into it (a due one turn away) while it is walked.
    timer_node batch;
    batch.next = head.next;
    batch.prev = head.prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    head.prev = head.next = &head;
    while (batch.next != &batch) {
      timer_node& node = *batch.next;
      unlink(node);
      if (node.due <= now_ms) {
        --count_;
        fire_(node, ctx_);
        if (closed_) break;
      } else {
        insert(node);  // due a later turn
      }
    }
    // Left only when closed mid-walk: unlink what remains so no node points at this frame.
    while (batch.next != &batch) {
      timer_node& node = *batch.next;
      unlink(node);
      --count_;
    }
  }
}

}  // namespace chatd
