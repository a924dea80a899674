#pragma once
// How adapter_node's requests and answers travel. Two dialects of @socket.io/redis-adapter:
// - classic (worker/classic_adapter_wire.h): "<key>-request#/#", "<key>-response#/#[<uid>#]",
//   the classic request types, one Redis;
// - sharded (worker/sharded_bus.h): createShardedAdapter's {uid, nsp, type, data} messages on
//   the namespace channel "<key>#/#" and each node's "<key>#/#<uid>#", on Redis Cluster.
// adapter_node decides what to answer from its local sockets; a dialect decodes what arrives,
// encodes the answers and knows where they go and how many nodes there are to ask.

#include "common/bus_request.h"
#include "common/expected.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace chatd {

class adapter_wire {
 public:
  using request_handler = std::function<void(const expected<wire::bus_request>& r)>;
  using response_handler = std::function<void(const expected<wire::bus_response>& r)>;
  using count_handler = std::function<void(std::optional<long long> nodes)>;

  virtual ~adapter_wire() = default;

  virtual const std::string& uid() const = 0;
  // Subscribes what it takes and hands every request and response that arrives, decoded (or the
  // reason it could not be), to the handlers. Requests this node sent itself reach on_request
  // only where the dialect applies them to the sender too (classic REMOTE_JOIN/LEAVE/DISCONNECT).
  // The handlers must not call serve() again.
  virtual void serve(request_handler on_request, response_handler on_response) = 0;
  // Answers a request of type `asked` from `requester_uid`; false when it could not be sent (the
  // dialect has no such answer, Redis down, an encode error: logged).
  virtual bool respond(std::string_view requester_uid, wire::request_type asked,
                       const wire::bus_response& answer) = 0;
  // Sends one of chatd's own requests (REMOTE_FETCH) to every other node.
  virtual bool request(const wire::bus_request& r) = 0;
  // How many nodes a request reaches, this one included (nullopt: Redis down).
  virtual void count_nodes(count_handler done) = 0;
  virtual void flush() = 0;
};

}  // namespace chatd
