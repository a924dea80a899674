#pragma once
// What the bus' parts (bus_subscriber, bus_publisher, bus_liveness) share: the namespace they
// serve and counting into stats a bus may run without (tests, tools).

#include "common/stats.h"

#include <atomic>
#include <string_view>

namespace chatd {

// The one namespace the worker serves today; every bus channel name carries it.
inline constexpr std::string_view k_bus_nsp = "/";

// `field` names a counter (declared in counters, worker_stats' base) or a gauge.
template <class T, class Of>
void bus_count(worker_stats* stats, std::atomic<T> Of::*field) {
  if (stats != nullptr) {
    (stats->*field).fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace chatd
