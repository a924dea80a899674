#pragma once
// Whole-daemon figures rendered from the shared stats segment: Prometheus text for /metrics and
// a JSON summary for /healthz.

#include "common/stats.h"

#include <string>

namespace chatd {

std::string render_metrics(stats_segment& segment);
// {"status":…,"worker":…,"redis":…,"workers":…,"connections":…,"sessions":…}
std::string render_health(stats_segment* segment, const worker_stats& self, unsigned slot);

}  // namespace chatd
