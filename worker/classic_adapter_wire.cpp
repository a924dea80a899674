// See classic_adapter_wire.h.

#include "worker/classic_adapter_wire.h"

#include "common/log.h"

#include <uv.h>
#include "worker/bus.h"
#include "worker/bus_common.h"

namespace chatd {

namespace {

// The classic answer to `asked`, as a Node 8.x adapter encodes it.
expected<std::string> encode_answer(wire::request_type asked, const wire::bus_response& a) {
  using t = wire::request_type;
  static const std::vector<std::string> none;
  switch (asked) {
    case t::sockets: return wire::encode_sockets_response(a.request_id, a.socket_ids.value_or(none));
    case t::all_rooms: return wire::encode_all_rooms_response(a.request_id, a.rooms.value_or(none));
    case t::remote_join:
    case t::remote_leave:
    case t::remote_disconnect: return wire::encode_done_response(a.request_id);
    case t::remote_fetch:
      return wire::encode_fetch_response(a.request_id, a.sockets.value_or(std::vector<wire::remote_socket>{}));
    case t::server_side_emit: return wire::encode_server_side_emit_ack(a.request_id, a.data.json);
    case t::broadcast:
      if (a.type == t::broadcast_client_count) {
        return wire::encode_broadcast_client_count(a.request_id, a.client_count.value_or(0));
      }
      return wire::encode_broadcast_ack(a.request_id, a.packet);
    case t::broadcast_client_count:
    case t::broadcast_ack: break;
  }
  return unexpected{std::string("no classic answer to a response type")};
}

}  // namespace

classic_adapter_wire::classic_adapter_wire(const config& cfg, bus& b)
    : cfg_(cfg), bus_(b), request_channel_(wire::request_channel(cfg.redis_key, k_bus_nsp)) {}

const std::string& classic_adapter_wire::uid() const { return bus_.uid(); }

void classic_adapter_wire::serve(request_handler on_request, response_handler on_response) {
  bus_.serve_requests(
      [on_request = std::move(on_request)](std::string_view, std::string_view payload) {
        on_request(wire::decode_request(payload));
      },
      [on_response = std::move(on_response)](std::string_view, std::string_view payload) {
        on_response(wire::decode_response(payload));
      });
}

bool classic_adapter_wire::respond(std::string_view requester_uid, wire::request_type asked,
                                   const wire::bus_response& answer) {
  expected<std::string> bytes = encode_answer(asked, answer);
  if (!bytes) {
    encode_log_(uv_hrtime() / 1000000, [&](uint64_t suppressed) {
      log::warn("adapter: could not encode an answer: {} ({} more suppressed)", bytes.error(),
                suppressed);
    });
    return false;
  }
  const bool specific = cfg_.adapter_specific_response_channel && !requester_uid.empty() &&
                        asked != wire::request_type::server_side_emit;
  const std::string channel = specific
                                  ? wire::specific_response_channel(cfg_.redis_key, k_bus_nsp, requester_uid)
                                  : wire::response_channel(cfg_.redis_key, k_bus_nsp);
  return bus_.publish_raw(channel, *bytes);
}

bool classic_adapter_wire::request(const wire::bus_request& r) {
  expected<std::string> bytes = wire::encode_request(r);
  if (!bytes) {
    encode_log_(uv_hrtime() / 1000000, [&](uint64_t suppressed) {
      log::warn("adapter: could not encode a request: {} ({} more suppressed)", bytes.error(),
                suppressed);
    });
    return false;
  }
  return bus_.publish_raw(request_channel_, *bytes);
}

void classic_adapter_wire::count_nodes(count_handler done) {
  bus_.numsub(request_channel_, std::move(done));
}

void classic_adapter_wire::flush() { bus_.flush(); }

}  // namespace chatd
