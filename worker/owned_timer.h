#pragma once
// A uv_timer_t with one owner, for objects that cannot hold the handle inline: the loop may still
// reference a handle after its owner is gone (until uv_close calls back), so the handle lives on
// the heap and the close callback frees it. Destroying the owner closes the timer; it never fires
// after that.

#include <uv.h>

namespace chatd {

class owned_timer {
 public:
  // `data` is what the callback finds in t->data.
  owned_timer(uv_loop_t* loop, void* data) : h_(new uv_timer_t) {
    uv_timer_init(loop, h_);
    h_->data = data;
  }
  ~owned_timer() { close(); }
  owned_timer(const owned_timer&) = delete;
  owned_timer& operator=(const owned_timer&) = delete;

  void start(uv_timer_cb cb, uint64_t timeout_ms, uint64_t repeat_ms) {
    if (h_ != nullptr) {
      uv_timer_start(h_, cb, timeout_ms, repeat_ms);
    }
  }
  // Stops and closes the timer (again: nothing). start() does nothing after it.
  void close() {
    if (h_ == nullptr) {
      return;
    }
    uv_timer_stop(h_);
    uv_close(reinterpret_cast<uv_handle_t*>(h_),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
    h_ = nullptr;
  }

 private:
  uv_timer_t* h_;
};

}  // namespace chatd
