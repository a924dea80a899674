#pragma once
// Delivery latency inside a worker, measured per loop iteration rather than per delivery: the
// first broadcast of an iteration that reaches a local client reads the clock, the server's flush
// (uv_prepare, after every connection's write) reads it once more, and every broadcast of the
// iteration is observed with that one value. Two clock reads per iteration at most
// (uv_hrtime: CLOCK_MONOTONIC through the vDSO, no system call), one relaxed add per broadcast.
//
// The first broadcast's stamp is taken after poll() returned with all of the iteration's input
// ready, so the figure is at most the time from the first broadcast handled to the end of the
// write, the same for all broadcasts of the iteration; a broadcast handled late in a busy
// iteration counts the work done before it, as its frames waited for it.

#include "common/stats.h"

#include <uv.h>

#include <cstdint>

namespace chatd {

class delivery_timer {
 public:
  explicit delivery_timer(worker_stats& stats) : stats_(stats) {}

  // A broadcast whose frames were queued to at least one local client (the hot path: no clock
  // read but the iteration's first).
  void queued() {
    if (pending_ == 0) started_ns_ = uv_hrtime();
    ++pending_;
  }
  // The flush has written what the iteration queued: its broadcasts are observed.
  void flushed() {
    if (pending_ == 0) return;
    stats_.delivery_latency_ns.observe(k_latency_bounds_ns, uv_hrtime() - started_ns_, pending_);
    pending_ = 0;
  }

 private:
  worker_stats& stats_;
  uint64_t started_ns_ = 0;
  uint64_t pending_ = 0;
};

}  // namespace chatd
