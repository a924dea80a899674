#pragma once
// What an Engine.IO session may use of its worker: the loop's clock, the configuration, the
// statistics, the heartbeat timer wheel, the shared ping frame, the namespaces and their
// applications, the registry that owns sessions and the worker's output budget. Nothing else of the server: a session can be built and driven in
// a unit test on a bare loop with a context of the test's own.

#include "common/config.h"
#include "common/stats.h"
#include "worker/frame.h"

#include <uv.h>

namespace chatd {

class namespace_table;
class output_budget;
class session_registry;
class timer_wheel;

struct session_context {
  uv_loop_t* loop;
  const config& cfg;
  unsigned slot;  // the worker slot sids name (eio::make_sid)
  worker_stats& stats;
  timer_wheel& timers;
  shared_bytes ping_frame;
  const namespace_table& namespaces;
  session_registry& registry;
  output_budget* output = nullptr;  // limits.max_output_memory; null: not counted (unit tests)
};

}  // namespace chatd
