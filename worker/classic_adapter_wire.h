#pragma once
// The classic @socket.io/redis-adapter dialect of adapter_wire (see adapter_wire.h), over the
// classic bus: requests on "<key>-request#/#" (PUBSUB NUMSUB counts the nodes), answers on
// "<key>-response#/#", or on "<key>-response#/#<requester uid>#" with
// adapter.specific_response_channel. serverSideEmit acks always take the shared channel, as a
// Node adapter listens for them there.

#include "common/config.h"
#include "common/rate_limited.h"
#include "worker/adapter_wire.h"

#include <string>

namespace chatd {

class bus;

class classic_adapter_wire final : public adapter_wire {
 public:
  classic_adapter_wire(const config& cfg, bus& b);

  const std::string& uid() const override;
  void serve(request_handler on_request, response_handler on_response) override;
  bool respond(std::string_view requester_uid, wire::request_type asked,
               const wire::bus_response& answer) override;
  bool request(const wire::bus_request& r) override;
  void count_nodes(count_handler done) override;
  void flush() override;

 private:
  const config& cfg_;
  bus& bus_;
  std::string request_channel_;
  log::rate_limited encode_log_;  // answers and requests that could not be encoded
};

}  // namespace chatd
