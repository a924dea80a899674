// The Redis bus of one worker (see bus.h): the three parts wired together. Link events reach
// bus_liveness first (it owns the links); the subscriber's share of them (subscribe everything
// again, forget confirmations) is routed here.

#include "worker/bus.h"

#include "common/bus_request.h"
#include "worker/bus_common.h"

namespace chatd {

bus::bus(uv_loop_t* loop, const config& cfg, std::string uid, worker_stats* stats, callbacks cb)
    : uid_(std::move(uid)),
      live_(loop, cfg, uid_, stats,
            {[this](redis_link& link) {
               if (&link == &live_.subscriber()) sub_.on_ready();
             },
             [this](redis_link& link) {
               if (&link == &live_.subscriber()) sub_.on_down();
             },
             std::move(cb.on_state)}),
      sub_(loop, live_.subscriber(), cfg.redis_key, uid_, stats,
           {std::move(cb.on_broadcast), std::move(cb.on_room_ready), std::move(cb.is_local_socket)},
           cfg.adapter_pattern_subscription),
      pub_(loop, live_.publisher(), cfg.redis_key, uid_, stats) {}

// Stopping first lets the links' pending hiredis callbacks run while the subscriber and publisher
// they point at still exist.
bus::~bus() { stop(); }

void bus::start() { live_.start(); }

void bus::stop() {
  sub_.stop();
  pub_.stop();
  live_.stop();
}

void bus::serve_requests(raw_handler on_request, raw_handler on_response) {
  const std::string& key = sub_.prefix();
  sub_.subscribe_fixed(wire::request_channel(key, k_bus_nsp), std::move(on_request));
  sub_.subscribe_fixed(wire::response_channel(key, k_bus_nsp), on_response);
  sub_.subscribe_fixed(wire::specific_response_channel(key, k_bus_nsp, uid_),
                       std::move(on_response));
}

}  // namespace chatd
