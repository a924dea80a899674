#pragma once
// This worker as a node of @socket.io/redis-adapter's request channel on "/" (classic pub/sub):
// Node servers (and other chatd workers) that call fetchSockets(), allRooms(), socketsJoin(),
// socketsLeave(), disconnectSockets(), serverSideEmit() or broadcast with acks wait for one
// answer per node that PUBSUB NUMSUB counts on "<key>-request#/#", so every worker subscribes
// there and answers at once, from its local sockets (chat's select/join/leave). And chatd asks
// the same questions for its own features (fetch_sockets: GET /presence).
//
// The dialect (classic channels or the sharded adapter's, worker/adapter_wire.h) decodes, encodes
// and routes; this file only decides what to answer.
// Rules the adapter keeps, kept here too:
//   - a node never answers its own requests (uid = this worker's, random per process), except
//     REMOTE_JOIN/LEAVE/DISCONNECT, which the sender applies to itself on receipt;
//   - answers go to "<key>-response#/#" (or "...#<requester uid>#" with
//     adapter.specific_response_channel);
//   - a BROADCAST with acks is answered with BROADCAST_CLIENT_COUNT at once, then one
//     BROADCAST_ACK per client ack; the acks waited for expire with the request's timeout.
// A malformed or hostile message is dropped with a rate-limited log line and a counter; it never
// reaches a socket.

#include "common/bus_request.h"
#include "common/config.h"
#include "common/rate_limited.h"
#include "common/stats.h"
#include "common/string_hash.h"
#include "worker/owned_timer.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatd {

class adapter_wire;
class chat;
class member;

class adapter_node {
 public:
  adapter_node(uv_loop_t* loop, const config& cfg, adapter_wire& w, chat& local, worker_stats& stats);
  ~adapter_node();
  adapter_node(const adapter_node&) = delete;
  adapter_node& operator=(const adapter_node&) = delete;

  // Subscribes the request and response channels (adapter.serve_requests) and hooks into chat's
  // acks and leaves.
  void start();

  // One message from the request channel / a response channel, decoded by the dialect.
  void on_request(const expected<wire::bus_request>& r);
  void on_response(const expected<wire::bus_response>& r);

  // What a REMOTE_FETCH answer says of a local socket.
  static wire::remote_socket describe(const member& m);

  // chatd asking the fleet: the sockets `sel` names on every node. `done` runs once: when every
  // other node Redis counts has answered, or at adapter.requests_timeout with what came.
  struct fetch_result {
    std::vector<wire::remote_socket> sockets;  // this worker's first
    // Which node each socket came from: this worker's uid, or "answer-<n>" for the n-th answer
    // (the classic adapter's answers do not say who sent them).
    std::vector<std::string> node_of;
    long long nodes = 0;     // nodes on the request channel, this worker included (0: Redis down)
    long long answered = 0;  // other nodes that answered
    bool timed_out = false;
    uint64_t elapsed_ms = 0;
  };
  void fetch_sockets(wire::room_selector sel, std::function<void(fetch_result)> done);

 private:
  struct pending_request {
    fetch_result result;
    long long expected = 0;
    uint64_t started_ms = 0;
    uint64_t deadline_ms = 0;
    std::function<void(fetch_result)> done;
  };
  // Acks a broadcast from another node waits for: the sockets that were sent its packet.
  struct pending_ack {
    std::string request_id;
    std::string requester_uid;
    std::unordered_set<const member*> waiting;
    uint64_t deadline_ms = 0;
  };

  void handle(const wire::bus_request& r);
  void broadcast_with_ack(const wire::bus_request& r);
  void on_client_ack(member& m, int64_t ack_id, std::string_view args_json,
                     std::vector<std::string> attachments);
  void on_leave(member& m);
  void respond(const wire::bus_request& r, const wire::bus_response& answer);
  void bad_message(std::string_view what, std::string_view why);
  void finish(const std::string& request_id, bool timed_out);
  void arm_sweep();
  static void on_sweep(uv_timer_t* t) noexcept;
  std::string new_request_id();

  uv_loop_t* loop_;
  const config& cfg_;
  adapter_wire& wire_;
  chat& local_;
  worker_stats& stats_;
  owned_timer sweep_;
  bool sweeping_ = false;
  std::unordered_map<std::string, pending_request, string_hash, std::equal_to<>> requests_;
  std::unordered_map<int64_t, pending_ack> acks_;
  int64_t next_ack_id_ = 0;
  uint64_t request_counter_ = 0;
  log::rate_limited bad_log_;
  log::rate_limited request_log_;  // fetches that could not be sent or timed out
  // Replies from Redis (NUMSUB) may come back while this object is being destroyed: they check.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatd
